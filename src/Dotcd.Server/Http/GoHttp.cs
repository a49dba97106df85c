using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Dotcd.Server.Http;

/// <summary>The small pieces of Go's net/http and encoding/json whose output etcd's HTTP endpoints show.</summary>
internal static class GoHttp
{
    public const string TextPlain = "text/plain; charset=utf-8";

    /// <summary>http.Error: text/plain, nosniff, the status, and the message plus a newline.</summary>
    public static Task ErrorAsync(HttpContext context, string message, int status)
    {
        HttpResponse response = context.Response;
        response.StatusCode = status;
        response.ContentType = TextPlain;
        response.Headers["X-Content-Type-Options"] = "nosniff";
        return response.WriteAsync(message + "\n", context.RequestAborted);
    }

    /// <summary>etcd's allowMethod, refusing half: a 405 naming the allowed methods.</summary>
    public static Task MethodNotAllowedAsync(HttpContext context, params string[] allowed)
    {
        context.Response.Headers["Allow"] = string.Join(",", allowed);
        return ErrorAsync(context, "Method Not Allowed", StatusCodes.Status405MethodNotAllowed);
    }

    /// <summary>Writes a JSON string literal the way Go's encoding/json does (it escapes &lt; &gt; &amp; too).</summary>
    public static void AppendJsonString(StringBuilder json, string value)
    {
        json.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append(@"\\"); break;
                case '\n': json.Append(@"\n"); break;
                case '\r': json.Append(@"\r"); break;
                case '\t': json.Append(@"\t"); break;
                case '<' or '>' or '&' or '\u2028' or '\u2029':
                    json.Append(@"\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default:
                    if (c < 0x20)
                    {
                        json.Append(@"\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        json.Append(c);
                    }

                    break;
            }
        }

        json.Append('"');
    }
}
