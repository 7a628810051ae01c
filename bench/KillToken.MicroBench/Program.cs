using System.Diagnostics;
using BenchmarkDotNet.Running;
using KillToken.Core.Optimization;

if (args is ["first-use"])
{
    // What the first OpenAI-model request of a process pays: building the o200k tokenizer (its vocabulary is parsed from
    // the data package once per process; BenchmarkDotNet's iterations would only see it warm), and what it keeps.
    var before = GC.GetTotalMemory(forceFullCollection: true);
    var clock = Stopwatch.StartNew();
    var tokens = TokenCounter.O200k.CountText("Hello, world!");
    var first = clock.Elapsed;
    clock.Restart();
    _ = TokenCounter.O200k.CountText("Hello again, world!");
    var second = clock.Elapsed;
    var kept = GC.GetTotalMemory(forceFullCollection: true) - before;
    Console.WriteLine($"o200k first count {first.TotalMilliseconds:0.0} ms ({tokens} tokens), second {second.TotalMilliseconds:0.000} ms, heap kept {kept / 1024.0 / 1024.0:0.0} MiB");
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
