using System.Globalization;
using System.Text;

namespace SltSharp.Engine.Formats;

/// <summary>
/// The parsed dict header of a .npy array: <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }</c>.
/// </summary>
/// <remarks>
/// The header is a Python literal; this parser accepts exactly the subset numpy writes (single- or double-quoted
/// strings, True/False, tuples of non-negative integers, optional trailing commas) and exactly the three keys numpy
/// requires, each once.
/// </remarks>
internal sealed class NpyHeader
{
    private NpyHeader(DType dtype, long[] shape, long elementCount)
    {
        DType = dtype;
        Shape = shape;
        ElementCount = elementCount;
    }

    internal DType DType { get; }

    internal long[] Shape { get; }

    internal long ElementCount { get; }

    /// <summary>Renders the dict numpy writes for a C-ordered little-endian array (without padding).</summary>
    internal static string Format(DType dtype, IReadOnlyList<int> shape)
    {
        var sb = new StringBuilder(64);
        sb.Append("{'descr': '").Append(DTypeInfo.NpyDescr(dtype)).Append("', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape.Count; i++)
        {
            sb.Append(shape[i].ToString(CultureInfo.InvariantCulture));
            sb.Append(shape.Count == 1 ? "," : i < shape.Count - 1 ? ", " : "");
        }
        sb.Append("), }");
        return sb.ToString();
    }

    /// <summary>Parses and validates a header dict; every problem becomes a <see cref="CheckpointFormatException"/>.</summary>
    internal static NpyHeader Parse(string text, string path, string? name)
    {
        var p = new Parser(text, path, name);
        return p.ParseDict();
    }

    private ref struct Parser
    {
        private readonly string _text;
        private readonly string _path;
        private readonly string? _name;
        private int _pos;

        public Parser(string text, string path, string? name)
        {
            _text = text;
            _path = path;
            _name = name;
            _pos = 0;
        }

        public NpyHeader ParseDict()
        {
            string? descr = null;
            bool? fortran = null;
            long[]? shape = null;
            SkipWhitespace();
            Consume('{');
            while (true)
            {
                SkipWhitespace();
                if (Peek() == '}')
                {
                    _pos++;
                    break;
                }
                string key = ParseString();
                SkipWhitespace();
                Consume(':');
                SkipWhitespace();
                switch (key)
                {
                    case "descr" when descr is null:
                        descr = ParseString();
                        break;
                    case "fortran_order" when fortran is null:
                        fortran = ParseBool();
                        break;
                    case "shape" when shape is null:
                        shape = ParseShape();
                        break;
                    case "descr" or "fortran_order" or "shape":
                        throw Fail($"key '{key}' appears twice in the header dict");
                    default:
                        throw Fail($"unexpected key '{key}' in the header dict (numpy writes only descr, fortran_order, shape)");
                }
                SkipWhitespace();
                if (Peek() == ',')
                {
                    _pos++;
                }
                else if (Peek() != '}')
                {
                    throw Fail($"expected ',' or '}}' at header position {_pos}");
                }
            }
            SkipWhitespace();
            if (_pos != _text.Length)
            {
                throw Fail($"the header has text after its dict at position {_pos}");
            }
            if (descr is null || fortran is null || shape is null)
            {
                string missing = descr is null ? "descr" : fortran is null ? "fortran_order" : "shape";
                throw Fail($"the header dict lacks '{missing}'");
            }
            DType dtype = ParseDescr(descr);
            if (fortran.Value)
            {
                throw new CheckpointFormatException(_path, _name,
                    "the array is stored in Fortran (column-major) order, which is not supported; save np.ascontiguousarray(a) instead.");
            }
            long count = ElementCodec.ElementCountOrMinusOne(shape);
            if (count < 0)
            {
                throw Fail($"shape ({string.Join(", ", shape)}) has an element count beyond the 64-bit range");
            }
            return new NpyHeader(dtype, shape, count);
        }

        private readonly DType ParseDescr(string descr)
        {
            switch (descr)
            {
                case "<f2": return DType.F16;
                case "<f4": return DType.F32;
                case "<f8": return DType.F64;
                case "<i4": return DType.I32;
                case "<i8": return DType.I64;
            }
            if (descr.Length > 1 && descr[0] == '>')
            {
                throw new CheckpointFormatException(_path, _name,
                    $"dtype '{descr}' is big-endian, which is not supported; save a.astype(a.dtype.newbyteorder('<')) instead.");
            }
            throw new CheckpointFormatException(_path, _name,
                $"dtype '{descr}' is not supported (supported: <f2 read-only, <f4, <f8, <i4, <i8); convert the array with astype before saving.");
        }

        private string ParseString()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"'))
            {
                throw Fail($"expected a quoted string at header position {_pos}");
            }
            int start = ++_pos;
            int end = _text.IndexOf(quote, start);
            if (end < 0)
            {
                throw Fail("a string in the header is not terminated");
            }
            string value = _text[start..end];
            if (value.Contains('\\', StringComparison.Ordinal))
            {
                throw Fail("a string in the header contains an escape sequence, which numpy never writes");
            }
            _pos = end + 1;
            return value;
        }

        private bool ParseBool()
        {
            if (string.CompareOrdinal(_text, _pos, "True", 0, 4) == 0)
            {
                _pos += 4;
                return true;
            }
            if (string.CompareOrdinal(_text, _pos, "False", 0, 5) == 0)
            {
                _pos += 5;
                return false;
            }
            throw Fail($"fortran_order must be True or False (header position {_pos})");
        }

        private long[] ParseShape()
        {
            Consume('(');
            var dims = new List<long>();
            bool trailingComma = false;
            while (true)
            {
                SkipWhitespace();
                if (Peek() == ')')
                {
                    _pos++;
                    break;
                }
                dims.Add(ParseInteger());
                SkipWhitespace();
                trailingComma = false;
                if (Peek() == ',')
                {
                    _pos++;
                    trailingComma = true;
                }
                else if (Peek() != ')')
                {
                    throw Fail($"expected ',' or ')' in shape at header position {_pos}");
                }
            }
            if (dims.Count == 1 && !trailingComma)
            {
                // "(3)" is the integer 3 in Python, not a tuple; numpy rejects it too.
                throw Fail("shape '(n)' lacks the comma of a one-element tuple '(n,)'");
            }
            return dims.ToArray();
        }

        private long ParseInteger()
        {
            int start = _pos;
            long value = 0;
            while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
            {
                int digit = _text[_pos] - '0';
                if (value > (long.MaxValue - digit) / 10)
                {
                    throw Fail("a shape dimension is beyond the 64-bit range");
                }
                value = (value * 10) + digit;
                _pos++;
            }
            if (_pos == start)
            {
                throw Fail($"expected a non-negative integer in shape at header position {_pos}");
            }
            // Python 2 era files write long literals as "3L".
            if (_pos < _text.Length && _text[_pos] == 'L')
            {
                _pos++;
            }
            return value;
        }

        private void SkipWhitespace()
        {
            while (_pos < _text.Length && _text[_pos] is ' ' or '\t' or '\n' or '\r')
            {
                _pos++;
            }
        }

        private readonly char Peek() => _pos < _text.Length ? _text[_pos] : '\0';

        private void Consume(char c)
        {
            if (Peek() != c)
            {
                throw Fail($"expected '{c}' at header position {_pos}");
            }
            _pos++;
        }

        private readonly CheckpointFormatException Fail(string problem) =>
            new(_path, _name, $"malformed .npy header: {problem}. The file is corrupt or not written by numpy.");
    }
}
