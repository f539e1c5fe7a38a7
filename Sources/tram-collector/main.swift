import TramCollectorCLI

await CollectorCommand.runFromCommandLine()
