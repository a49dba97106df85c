using System.Globalization;
using System.Text;

namespace Dotcd.Interop.Tests.Harness;

/// <summary>How a field of a response is shown once decoded, and whether it is normalized.</summary>
public enum ProtoFieldKind
{
    Int,
    Bool,
    Bytes,
    Id,      // normalized like IDs in JSON
    Term,    // normalized like terms in JSON
    Message,
}

public sealed record ProtoField(string Name, ProtoFieldKind Kind, ProtoSchema? Message = null);

/// <summary>The fields of one message type, by field number (etcd's rpc.proto and kv.proto).</summary>
public sealed record ProtoSchema(string Name, IReadOnlyDictionary<int, ProtoField> Fields)
{
    public static readonly ProtoSchema ResponseHeader = new("ResponseHeader", new Dictionary<int, ProtoField>
    {
        [1] = new("cluster_id", ProtoFieldKind.Id),
        [2] = new("member_id", ProtoFieldKind.Id),
        [3] = new("revision", ProtoFieldKind.Int),
        [4] = new("raft_term", ProtoFieldKind.Term),
    });

    public static readonly ProtoSchema KeyValue = new("KeyValue", new Dictionary<int, ProtoField>
    {
        [1] = new("key", ProtoFieldKind.Bytes),
        [2] = new("create_revision", ProtoFieldKind.Int),
        [3] = new("mod_revision", ProtoFieldKind.Int),
        [4] = new("version", ProtoFieldKind.Int),
        [5] = new("value", ProtoFieldKind.Bytes),
        [6] = new("lease", ProtoFieldKind.Id),
    });

    public static readonly ProtoSchema RangeResponse = new("RangeResponse", new Dictionary<int, ProtoField>
    {
        [1] = new("header", ProtoFieldKind.Message, ResponseHeader),
        [2] = new("kvs", ProtoFieldKind.Message, KeyValue),
        [3] = new("more", ProtoFieldKind.Bool),
        [4] = new("count", ProtoFieldKind.Int),
    });

    public static readonly ProtoSchema PutResponse = new("PutResponse", new Dictionary<int, ProtoField>
    {
        [1] = new("header", ProtoFieldKind.Message, ResponseHeader),
        [2] = new("prev_kv", ProtoFieldKind.Message, KeyValue),
    });

    public static readonly ProtoSchema DeleteRangeResponse = new("DeleteRangeResponse", new Dictionary<int, ProtoField>
    {
        [1] = new("header", ProtoFieldKind.Message, ResponseHeader),
        [2] = new("deleted", ProtoFieldKind.Int),
        [3] = new("prev_kvs", ProtoFieldKind.Message, KeyValue),
    });

    /// <summary>The response etcdctl prints for a command with `-w protobuf`.</summary>
    public static ProtoSchema ForCommand(string command) => command switch
    {
        "get" => RangeResponse,
        "put" => PutResponse,
        "del" => DeleteRangeResponse,
        _ => throw new ArgumentException($"no protobuf schema for etcdctl {command}", nameof(command)),
    };
}

/// <summary>
/// Renders protobuf bytes as one line of text, field by field in wire order, so that field
/// order, repeated fields and unknown fields all show in a comparison; only IDs and terms are
/// normalized (through the transcript's <see cref="OutputNormalizer"/>).
/// </summary>
public static class ProtobufDump
{
    // Wire format: each field is a varint tag (field_number << 3 | wire_type) then
    //   wire_type 0: varint  1: 8 bytes  2: varint length, then that many bytes  5: 4 bytes
    public static string Render(ReadOnlySpan<byte> bytes, ProtoSchema schema, OutputNormalizer normalizer)
    {
        var text = new StringBuilder();
        try
        {
            RenderMessage(bytes, schema, normalizer, text);
        }
        catch (FormatException e)
        {
            text.Append(" <malformed: ").Append(e.Message).Append('>');
        }

        return text.ToString();
    }

    private static void RenderMessage(ReadOnlySpan<byte> bytes, ProtoSchema schema, OutputNormalizer normalizer, StringBuilder text)
    {
        text.Append(schema.Name).Append('{');
        bool first = true;
        while (!bytes.IsEmpty)
        {
            ulong tag = ReadVarint(ref bytes);
            int number = (int)(tag >> 3);
            int wireType = (int)(tag & 7);
            if (!first)
            {
                text.Append(' ');
            }

            first = false;
            schema.Fields.TryGetValue(number, out ProtoField? field);
            text.Append(field?.Name ?? $"?{number}").Append(':');
            switch (wireType)
            {
                case 0:
                {
                    ulong value = ReadVarint(ref bytes);
                    text.Append(field?.Kind switch
                    {
                        ProtoFieldKind.Id => normalizer.Id(value),
                        ProtoFieldKind.Term => normalizer.Term(value),
                        ProtoFieldKind.Bool => value == 1 ? "true" : $"bool({value})",
                        ProtoFieldKind.Int => ((long)value).ToString(CultureInfo.InvariantCulture),
                        _ => $"varint({value})",
                    });
                    break;
                }

                case 2:
                {
                    ulong length = ReadVarint(ref bytes);
                    if (length > (ulong)bytes.Length)
                    {
                        throw new FormatException($"field {number} is {length} bytes but {bytes.Length} remain");
                    }

                    ReadOnlySpan<byte> payload = bytes[..(int)length];
                    bytes = bytes[(int)length..];
                    if (field is { Kind: ProtoFieldKind.Message, Message: not null })
                    {
                        RenderMessage(payload, field.Message, normalizer, text);
                    }
                    else
                    {
                        AppendQuoted(payload, text);
                    }

                    break;
                }

                case 1:
                    Take(ref bytes, 8, text);
                    break;
                case 5:
                    Take(ref bytes, 4, text);
                    break;
                default:
                    throw new FormatException($"wire type {wireType} for field {number}");
            }
        }

        text.Append('}');
    }

    private static void Take(ref ReadOnlySpan<byte> bytes, int count, StringBuilder text)
    {
        if (bytes.Length < count)
        {
            throw new FormatException("truncated fixed-size field");
        }

        text.Append("0x").Append(Convert.ToHexString(bytes[..count]));
        bytes = bytes[count..];
    }

    private static ulong ReadVarint(ref ReadOnlySpan<byte> bytes)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (bytes.IsEmpty)
            {
                throw new FormatException("truncated varint");
            }

            byte b = bytes[0];
            bytes = bytes[1..];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new FormatException("varint longer than 10 bytes");
    }

    private static void AppendQuoted(ReadOnlySpan<byte> bytes, StringBuilder text)
    {
        text.Append('"');
        foreach (byte b in bytes)
        {
            if (b is >= 0x20 and < 0x7F and not (byte)'"' and not (byte)'\\')
            {
                text.Append((char)b);
            }
            else
            {
                text.Append("\\x").Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }
        }

        text.Append('"');
    }
}
