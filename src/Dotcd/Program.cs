using Dotcd;

using Stream standardOutput = Console.OpenStandardOutput();
using Stream standardError = Console.OpenStandardError();
return DotcdHost.Run(args, DotcdHost.ProcessEnvironment(), standardOutput, standardError, TimeProvider.System);
