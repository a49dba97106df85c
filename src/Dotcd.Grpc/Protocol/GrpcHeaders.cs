namespace Dotcd.Grpc;

/// <summary>Header names and values of the gRPC HTTP/2 protocol.</summary>
internal static class GrpcHeaders
{
    public const string ContentType = "application/grpc";
    public const string Status = "grpc-status";
    public const string Message = "grpc-message";
    public const string Timeout = "grpc-timeout";
    public const string Encoding = "grpc-encoding";
    public const string AcceptEncoding = "grpc-accept-encoding";

    // Status codes as header values, so the hot path never formats an int.
    private static readonly string[] s_codeStrings =
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16"];

    public static string FormatStatusCode(StatusCode code)
    {
        uint index = (uint)code;
        return index < (uint)s_codeStrings.Length ? s_codeStrings[index] : index.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Parses a grpc-status value; anything that is not a non-negative integer is Unknown.</summary>
    public static StatusCode ParseStatusCode(string? value)
    {
        if (value is null || value.Length == 0 || value.Length > 9)
        {
            return StatusCode.Unknown;
        }

        int code = 0;
        foreach (char c in value)
        {
            if (c < '0' || c > '9')
            {
                return StatusCode.Unknown;
            }

            code = (code * 10) + (c - '0');
        }

        return (StatusCode)code;
    }

    /// <summary>
    /// True for the content types a gRPC request with protobuf messages may carry:
    /// "application/grpc" and "application/grpc+proto", optionally followed by ";parameters".
    /// </summary>
    public static bool IsSupportedContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        ReadOnlySpan<char> rest = contentType.AsSpan(ContentType.Length);
        if (rest.StartsWith("+proto", StringComparison.OrdinalIgnoreCase))
        {
            rest = rest["+proto".Length..];
        }

        return rest.IsEmpty || rest[0] == ';';
    }

    /// <summary>True when a request announces itself as gRPC of any flavour (application/grpc...).</summary>
    public static bool LooksLikeGrpc(string? contentType) =>
        contentType is not null && contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase);

    /// <summary>Decodes a "-bin" header value: base64 with or without padding; null when malformed.</summary>
    public static byte[]? DecodeBinaryHeader(string value)
    {
        int padding = (4 - (value.Length % 4)) % 4;
        string padded = padding == 0 ? value : value + new string('=', padding);
        try
        {
            return Convert.FromBase64String(padded);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
