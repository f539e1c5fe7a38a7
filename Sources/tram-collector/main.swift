import TramCollector

await CollectorCommand.runFromCommandLine()
