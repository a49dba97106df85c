using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Dotcd.Logging;

/// <summary>
/// Encodes one log line exactly as etcd's zap JSON encoder does:
/// <code>
/// {"level":"info","ts":"2026-11-21T23:59:59.123Z","caller":"embed/etcd.go:117","msg":"...","key":value,...}\n
/// </code>
/// Keys come in that order, then the logger's own fields (With), then the call's fields.
/// "ts" is Go's ISO8601 layout 2006-01-02T15:04:05.000Z0700 in the local zone: milliseconds
/// truncated, "Z" for a zero offset, else "+hhmm" without a colon. "caller" is the last two
/// segments of the source path and the line. Strings escape '"', '\\' and control characters
/// (\n, \r, \t, else \u00xx in lower-case hex); every other character is written as UTF-8.
/// </summary>
internal sealed class LogLineEncoder
{
    private byte[] _buffer = new byte[512];
    private int _length;

    public ReadOnlySpan<byte> Line => _buffer.AsSpan(0, _length);

    public void Encode(
        LogLevel level,
        DateTimeOffset localTime,
        string callerFile,
        int callerLine,
        string message,
        ReadOnlySpan<LogField> context,
        ReadOnlySpan<LogField> fields)
    {
        _length = 0;
        WriteRaw("{\"level\":\""u8);
        WriteRaw(LogLevels.Utf8Name(level));
        WriteRaw("\",\"ts\":\""u8);
        WriteTimestamp(localTime);
        WriteRaw("\""u8);
        if (callerFile.Length > 0)
        {
            WriteRaw(",\"caller\":\""u8);
            WriteEscaped(ShortCaller(callerFile));
            WriteRaw(":"u8);
            WriteInt64(callerLine);
            WriteRaw("\""u8);
        }

        WriteRaw(",\"msg\":"u8);
        WriteQuoted(message);
        foreach (ref readonly LogField field in context)
        {
            WriteField(field);
        }

        foreach (ref readonly LogField field in fields)
        {
            WriteField(field);
        }

        WriteRaw("}\n"u8);
    }

    // "/work/main/src/Dotcd/Configuration/ConfigLoader.cs" -> "Configuration/ConfigLoader.cs",
    // like zap's ShortCallerEncoder ("embed/etcd.go").
    internal static ReadOnlySpan<char> ShortCaller(string path)
    {
        int last = path.AsSpan().LastIndexOfAny('/', '\\');
        if (last <= 0)
        {
            return path;
        }

        int previous = path.AsSpan(0, last).LastIndexOfAny('/', '\\');
        ReadOnlySpan<char> shortPath = path.AsSpan(previous + 1);
        return shortPath;
    }

    private void WriteField(in LogField field)
    {
        if (field.IsEmpty)
        {
            return;
        }

        WriteRaw(","u8);
        WriteQuoted(field.Key);
        WriteRaw(":"u8);
        switch (field.Kind)
        {
            case LogField.FieldKind.String:
                WriteQuoted((string?)field.Reference ?? "");
                break;
            case LogField.FieldKind.Strings:
                WriteRaw("["u8);
                bool first = true;
                foreach (object? item in (IEnumerable<object?>?)field.Reference ?? [])
                {
                    if (!first)
                    {
                        WriteRaw(","u8);
                    }

                    first = false;
                    WriteQuoted(item?.ToString() ?? "<nil>");
                }

                WriteRaw("]"u8);
                break;
            case LogField.FieldKind.Int64:
                WriteInt64(field.Number);
                break;
            case LogField.FieldKind.UInt64:
                Ensure(20);
                Utf8Formatter.TryFormat(unchecked((ulong)field.Number), _buffer.AsSpan(_length), out int written);
                _length += written;
                break;
            case LogField.FieldKind.Double:
                WriteDouble(BitConverter.Int64BitsToDouble(field.Number));
                break;
            case LogField.FieldKind.Bool:
                WriteRaw(field.Number != 0 ? "true"u8 : "false"u8);
                break;
            case LogField.FieldKind.Duration:
                WriteQuoted(GoDurationText.FormatNanoseconds(field.Number));
                break;
            case LogField.FieldKind.Stringer:
                WriteQuoted(field.Reference?.ToString() ?? "<nil>");
                break;
        }
    }

    private void WriteDouble(double value)
    {
        // zap writes the non-finite values as strings so the line stays valid JSON.
        if (double.IsNaN(value))
        {
            WriteRaw("\"NaN\""u8);
        }
        else if (double.IsPositiveInfinity(value))
        {
            WriteRaw("\"+Inf\""u8);
        }
        else if (double.IsNegativeInfinity(value))
        {
            WriteRaw("\"-Inf\""u8);
        }
        else
        {
            WriteAscii(value.ToString("R", CultureInfo.InvariantCulture));
        }
    }

    private void WriteTimestamp(DateTimeOffset time)
    {
        Ensure(40);
        Span<byte> destination = _buffer.AsSpan(_length);
        time.DateTime.TryFormat(destination, out int written, "yyyy-MM-dd'T'HH:mm:ss.fff", CultureInfo.InvariantCulture);
        _length += written;
        TimeSpan offset = time.Offset;
        if (offset == TimeSpan.Zero)
        {
            WriteRaw("Z"u8);
            return;
        }

        WriteRaw(offset < TimeSpan.Zero ? "-"u8 : "+"u8);
        offset = offset.Duration();
        Write2Digits(offset.Hours);
        Write2Digits(offset.Minutes);
    }

    private void Write2Digits(int value)
    {
        Ensure(2);
        _buffer[_length++] = (byte)('0' + value / 10);
        _buffer[_length++] = (byte)('0' + value % 10);
    }

    private void WriteInt64(long value)
    {
        Ensure(20);
        Utf8Formatter.TryFormat(value, _buffer.AsSpan(_length), out int written);
        _length += written;
    }

    private void WriteQuoted(ReadOnlySpan<char> text)
    {
        WriteRaw("\""u8);
        WriteEscaped(text);
        WriteRaw("\""u8);
    }

    private void WriteEscaped(ReadOnlySpan<char> text)
    {
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c >= 0x20 && c != '"' && c != '\\')
            {
                continue;
            }

            WriteUtf8(text[start..i]);
            switch (c)
            {
                case '"': WriteRaw("\\\""u8); break;
                case '\\': WriteRaw("\\\\"u8); break;
                case '\n': WriteRaw("\\n"u8); break;
                case '\r': WriteRaw("\\r"u8); break;
                case '\t': WriteRaw("\\t"u8); break;
                default:
                    WriteRaw("\\u00"u8);
                    Ensure(2);
                    _buffer[_length++] = HexDigit(c >> 4);
                    _buffer[_length++] = HexDigit(c & 0xF);
                    break;
            }

            start = i + 1;
        }

        WriteUtf8(text[start..]);
    }

    private static byte HexDigit(int value) => (byte)(value < 10 ? '0' + value : 'a' + value - 10);

    private void WriteUtf8(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return;
        }

        // Lone surrogates become U+FFFD, as zap turns invalid UTF-8 into \ufffd.
        Ensure(Encoding.UTF8.GetMaxByteCount(text.Length));
        _length += Encoding.UTF8.GetBytes(text, _buffer.AsSpan(_length));
    }

    private void WriteAscii(string text)
    {
        Ensure(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            _buffer[_length++] = (byte)text[i];
        }
    }

    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void Ensure(int extra)
    {
        if (_length + extra <= _buffer.Length)
        {
            return;
        }

        int size = Math.Max(_buffer.Length * 2, _length + extra);
        byte[] larger = new byte[size];
        _buffer.AsSpan(0, _length).CopyTo(larger);
        _buffer = larger;
    }
}
