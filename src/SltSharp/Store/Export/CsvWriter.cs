using System.Globalization;

namespace SltSharp.Store.Export;

/// <summary>
/// A minimal RFC 4180 CSV writer: fields containing a comma, quote, CR or LF are quoted with quotes doubled;
/// numbers are written in the invariant culture with round-trip precision; NaN and infinities as <c>NaN</c>,
/// <c>Infinity</c>, <c>-Infinity</c> (what pandas and R read back).
/// </summary>
public sealed class CsvWriter
{
    private readonly TextWriter _writer;
    private bool _rowStarted;

    /// <summary>Writes to <paramref name="writer"/> (rows end with LF).</summary>
    /// <param name="writer">The output.</param>
    public CsvWriter(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _writer = writer;
    }

    /// <summary>Appends a text field to the current row.</summary>
    /// <param name="value">The text (null writes an empty field).</param>
    public CsvWriter Field(string? value)
    {
        if (_rowStarted)
        {
            _writer.Write(',');
        }

        _rowStarted = true;
        value ??= string.Empty;
        if (value.AsSpan().IndexOfAny(",\"\r\n") >= 0)
        {
            _writer.Write('"');
            _writer.Write(value.Replace("\"", "\"\"", StringComparison.Ordinal));
            _writer.Write('"');
        }
        else
        {
            _writer.Write(value);
        }

        return this;
    }

    /// <summary>Appends a floating-point field (round-trip precision).</summary>
    /// <param name="value">The number.</param>
    public CsvWriter Field(double value) => Field(FormatDouble(value));

    /// <summary>Appends an integer field.</summary>
    /// <param name="value">The number.</param>
    public CsvWriter Field(long value) => Field(value.ToString(CultureInfo.InvariantCulture));

    /// <summary>Ends the current row.</summary>
    public void EndRow()
    {
        _writer.Write('\n');
        _rowStarted = false;
    }

    /// <summary>Writes a whole row of text fields.</summary>
    /// <param name="fields">The fields.</param>
    public void Row(params string?[] fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        foreach (var f in fields)
        {
            Field(f);
        }

        EndRow();
    }

    /// <summary>Invariant, round-trip text of a double.</summary>
    /// <param name="value">The number.</param>
    public static string FormatDouble(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
