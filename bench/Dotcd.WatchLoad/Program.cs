using System.Text.Json;
using Dotcd.WatchLoad;

// dotcd-watchload: one watch or lease workload against one endpoint, one JSON line on stdout
// (the workload's fields plus "workload" and "label"); 1 when the run had errors, 2 for usage.
WatchLoadOptions options;
Func<WatchLoadOptions, Task<Dictionary<string, object>>> run;
try
{
    options = WatchLoadOptions.Parse(args);
    run = options.Workload switch
    {
        "latency" => LatencyWorkload.RunAsync,
        "fanout" => FanoutWorkload.RunAsync,
        "memory" => MemoryWorkload.RunAsync,
        "keepalive" => KeepAliveWorkload.RunAsync,
        string other => throw new UsageException($"unknown workload \"{other}\""),
    };
    _ = options.Endpoint;
}
catch (UsageException e)
{
    if (e.Message.Length > 0)
    {
        Console.Error.WriteLine($"dotcd-watchload: {e.Message}");
    }

    Console.Error.WriteLine(WatchLoadOptions.Usage);
    return e.Message.Length > 0 ? 2 : 0;
}

Dictionary<string, object> result;
try
{
    result = await run(options);
}
catch (UsageException e)
{
    Console.Error.WriteLine($"dotcd-watchload: {e.Message}");
    return 2;
}
catch (Exception e)
{
    // One line still: the script records the failure beside the other results.
    result = new Dictionary<string, object> { ["errors"] = -1, ["first_error"] = $"{e.GetType().Name}: {e.Message}" };
}

result["workload"] = options.Workload;
result["label"] = options.Label;
Console.WriteLine(JsonSerializer.Serialize(result));
return result.TryGetValue("errors", out object? errors) && Convert.ToInt64(errors, System.Globalization.CultureInfo.InvariantCulture) != 0 ? 1 : 0;
