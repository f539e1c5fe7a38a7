import TramCtl

await TramCtl.runFromCommandLine()
