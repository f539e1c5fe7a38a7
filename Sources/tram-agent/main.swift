import TramAgent
#if canImport(Glibc)
import Glibc
#endif

exit(await AgentDaemon.main(Array(CommandLine.arguments.dropFirst())))
