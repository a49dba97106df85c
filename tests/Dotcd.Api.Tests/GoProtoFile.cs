using System.Text;

namespace Dotcd.Api.Tests;

/// <summary>The declarations of one .proto file from etcd's Go sources, read with a small parser.</summary>
/// <remarks>
/// Enough of the protobuf language for etcd's files: syntax, package, import, option, message (nested,
/// with oneof, reserved, map), enum and service with rpc. Options in brackets are kept as text so
/// `packed` can be read; option blocks such as google.api.http are skipped.
/// </remarks>
internal sealed class GoProtoFile
{
    public const string EtcdRoot = "/usr/share/gocode/src/go.etcd.io/etcd/";

    public string Syntax { get; private set; } = "proto2";
    public string Package { get; private set; } = "";
    public List<ProtoMessage> Messages { get; } = [];  // Nested messages flattened in, by full name.
    public List<ProtoEnum> Enums { get; } = [];         // Nested enums too.
    public List<ProtoService> Services { get; } = [];

    private readonly List<string> _tokens;
    private int _position;

    private GoProtoFile(string text)
    {
        _tokens = Tokenize(text);
        ParseFile();
    }

    public static GoProtoFile Load(string path) => new(File.ReadAllText(path));

    public static GoProtoFile Parse(string text) => new(text);

    private void ParseFile()
    {
        while (_position < _tokens.Count)
        {
            string token = Next();
            switch (token)
            {
                case "syntax":
                    Expect("=");
                    Syntax = Unquote(Next());
                    Expect(";");
                    break;
                case "package":
                    Package = Next();
                    Expect(";");
                    break;
                case "import":
                case "option":
                    SkipStatement();
                    break;
                case "message":
                    ParseMessage(Package);
                    break;
                case "enum":
                    ParseEnum(Package);
                    break;
                case "service":
                    ParseService();
                    break;
                case ";":
                    break;
                default:
                    throw new FormatException($"unexpected '{token}' at file level");
            }
        }
    }

    private void ParseMessage(string scope)
    {
        string name = Next();
        var message = new ProtoMessage($"{scope}.{name}", name);
        Messages.Add(message);
        Expect("{");
        ParseMessageBody(message, oneof: null);
    }

    private void ParseMessageBody(ProtoMessage message, string? oneof)
    {
        while (true)
        {
            string token = Next();
            switch (token)
            {
                case "}":
                    if (Peek() == ";")
                    {
                        Next();
                    }
                    return;
                case ";":
                    break;
                case "message":
                    ParseMessage(message.FullName);
                    break;
                case "enum":
                    ParseEnum(message.FullName);
                    break;
                case "option":
                case "reserved":
                case "extensions":
                    SkipStatement();
                    break;
                case "oneof":
                    string group = Next();
                    Expect("{");
                    ParseMessageBody(message, group);
                    break;
                default:
                    message.Fields.Add(ParseField(token, oneof));
                    break;
            }
        }
    }

    // [label] type name = number [options] ;   or   map<key, value> name = number ;
    private ProtoField ParseField(string first, string? oneof)
    {
        string label = "";
        string type = first;
        if (first is "repeated" or "optional" or "required")
        {
            label = first;
            type = Next();
        }
        if (type == "map")
        {
            var builder = new StringBuilder("map");
            while (Peek() != ">")
            {
                builder.Append(Next());
            }
            builder.Append(Next());
            type = builder.ToString();
        }
        string name = Next();
        Expect("=");
        int number = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture);
        var options = new StringBuilder();
        if (Peek() == "[")
        {
            Next();
            int depth = 1;
            while (depth > 0)
            {
                string token = Next();
                depth += token == "[" ? 1 : token == "]" ? -1 : 0;
                if (depth > 0)
                {
                    options.Append(token).Append(' ');
                }
            }
        }
        Expect(";");
        return new ProtoField(name, number, type, label == "repeated", oneof, options.ToString());
    }

    private void ParseEnum(string scope)
    {
        string name = Next();
        var values = new List<(string Name, int Number)>();
        Expect("{");
        while (true)
        {
            string token = Next();
            if (token == "}")
            {
                break;
            }
            if (token == ";")
            {
                continue;
            }
            if (token is "option" or "reserved")
            {
                SkipStatement();
                continue;
            }
            Expect("=");
            string number = Next();
            if (number == "-")
            {
                number = "-" + Next();
            }
            values.Add((token, int.Parse(number, System.Globalization.CultureInfo.InvariantCulture)));
            if (Peek() == "[")
            {
                SkipBalanced("[", "]");
            }
            Expect(";");
        }
        Enums.Add(new ProtoEnum($"{scope}.{name}", values));
    }

    // rpc Name ( [stream] Request ) returns ( [stream] Response ) { options } | ;
    private void ParseService()
    {
        string name = Next();
        var service = new ProtoService($"{Package}.{name}");
        Services.Add(service);
        Expect("{");
        while (true)
        {
            string token = Next();
            if (token == "}")
            {
                break;
            }
            if (token == ";")
            {
                continue;
            }
            if (token == "option")
            {
                SkipStatement();
                continue;
            }
            if (token != "rpc")
            {
                throw new FormatException($"unexpected '{token}' in service {name}");
            }
            string method = Next();
            Expect("(");
            bool clientStreaming = Peek() == "stream";
            if (clientStreaming)
            {
                Next();
            }
            string input = Next();
            Expect(")");
            Expect("returns");
            Expect("(");
            bool serverStreaming = Peek() == "stream";
            if (serverStreaming)
            {
                Next();
            }
            string output = Next();
            Expect(")");
            if (Peek() == "{")
            {
                SkipBalanced("{", "}");
            }
            else
            {
                Expect(";");
            }
            service.Methods.Add(new ProtoMethod(method, input, output, clientStreaming, serverStreaming));
        }
    }

    // Skips to the ';' that ends a statement, passing over any { } or [ ] blocks inside it.
    private void SkipStatement()
    {
        while (true)
        {
            string token = Peek();
            if (token == "{")
            {
                SkipBalanced("{", "}");
                continue;
            }
            if (token == "[")
            {
                SkipBalanced("[", "]");
                continue;
            }
            Next();
            if (token == ";")
            {
                return;
            }
        }
    }

    private void SkipBalanced(string open, string close)
    {
        Expect(open);
        int depth = 1;
        while (depth > 0)
        {
            string token = Next();
            depth += token == open ? 1 : token == close ? -1 : 0;
        }
    }

    private string Next() =>
        _position < _tokens.Count ? _tokens[_position++] : throw new FormatException("unexpected end of file");

    private string Peek() => _position < _tokens.Count ? _tokens[_position] : "";

    private void Expect(string expected)
    {
        string token = Next();
        if (token != expected)
        {
            throw new FormatException($"expected '{expected}', found '{token}' (token {_position})");
        }
    }

    private static string Unquote(string token) => token.Trim('"', '\'');

    // Tokens: identifiers with dots (and parenthesized option names as their parts), numbers,
    // strings, and single-character symbols. Comments are dropped.
    private static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '/' && i + 1 < text.Length && text[i + 1] == '/')
            {
                while (i < text.Length && text[i] != '\n')
                {
                    i++;
                }
            }
            else if (c == '/' && i + 1 < text.Length && text[i + 1] == '*')
            {
                int end = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? text.Length : end + 2;
            }
            else if (c is '"' or '\'')
            {
                int start = i++;
                while (i < text.Length && text[i] != c)
                {
                    i += text[i] == '\\' ? 2 : 1;
                }
                i++;
                tokens.Add(text[start..i]);
            }
            else if (char.IsLetterOrDigit(c) || c == '_' || c == '.')
            {
                int start = i;
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '.'))
                {
                    i++;
                }
                tokens.Add(text[start..i]);
            }
            else
            {
                tokens.Add(c.ToString());
                i++;
            }
        }
        return tokens;
    }
}

internal sealed record ProtoField(string Name, int Number, string Type, bool Repeated, string? Oneof, string Options);

internal sealed record ProtoMessage(string FullName, string Name)
{
    public List<ProtoField> Fields { get; } = [];
}

internal sealed record ProtoEnum(string FullName, List<(string Name, int Number)> Values);

internal sealed record ProtoMethod(string Name, string Input, string Output, bool ClientStreaming, bool ServerStreaming);

internal sealed record ProtoService(string FullName)
{
    public List<ProtoMethod> Methods { get; } = [];
}
