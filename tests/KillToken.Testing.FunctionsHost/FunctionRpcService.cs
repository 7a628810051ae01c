using Grpc.Core;
using KillToken.Testing.FunctionsHost.Rpc;

namespace KillToken.Testing.FunctionsHost;

/// <summary>The gRPC service the worker dials: its one bidirectional stream is handed to the <see cref="WorkerChannel"/>.</summary>
internal sealed class FunctionRpcService(WorkerChannel channel) : FunctionRpc.FunctionRpcBase
{
    public override Task EventStream(IAsyncStreamReader<StreamingMessage> requestStream, IServerStreamWriter<StreamingMessage> responseStream, ServerCallContext context) =>
        channel.RunAsync(requestStream, responseStream, context.CancellationToken);
}
