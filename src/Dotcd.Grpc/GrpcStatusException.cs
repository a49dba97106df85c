namespace Dotcd.Grpc;

/// <summary>
/// A call ended with a non-OK status. Server handlers throw it to fail a call; the client throws it
/// when the server (or the client itself, for deadlines and transport failures) ends a call with one.
/// </summary>
public sealed class GrpcStatusException : Exception
{
    public GrpcStatusException(StatusCode code, string message)
        : this(new GrpcStatus(code, message))
    {
    }

    public GrpcStatusException(GrpcStatus status, GrpcMetadata? trailers = null, Exception? innerException = null)
        : base(status.ToString(), innerException)
    {
        Status = status;
        Trailers = trailers ?? GrpcMetadata.Empty;
    }

    public GrpcStatus Status { get; }

    public StatusCode StatusCode => Status.Code;

    /// <summary>The status message alone (the exception's Message is "code = X desc = Y").</summary>
    public string Detail => Status.Message;

    /// <summary>Trailers that came with the status (client side), or that the server should send with it.</summary>
    public GrpcMetadata Trailers { get; }
}
