using Dotcd;

using Stream standardOutput = Console.OpenStandardOutput();
using Stream standardError = Console.OpenStandardError();
(CancellationToken shutdown, IDisposable signals) = DotcdHost.ShutdownSignal();
using (signals)
{
    return DotcdHost.Run(args, DotcdHost.ProcessEnvironment(), standardOutput, standardError, TimeProvider.System, shutdown);
}
