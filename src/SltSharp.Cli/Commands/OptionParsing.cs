using System.CommandLine;
using System.Globalization;

namespace SltSharp.Cli.Commands;

/// <summary>Small helpers shared by the commands' option definitions.</summary>
internal static class OptionParsing
{
    /// <summary>An option holding a comma-separated list of positive integers, e.g. <c>--widths 10,20,10</c>.</summary>
    public static Option<int[]> IntList(string name, string description, Func<int[]> defaultValue, int minimum = 0)
    {
        var option = new Option<int[]>(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue(),
            CustomParser = result =>
            {
                string text = string.Join(",", result.Tokens.Select(t => t.Value));
                var values = new List<int>();
                foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < minimum)
                    {
                        result.AddError($"{name} takes a comma-separated list of integers ≥ {minimum}, e.g. {name} 10,20,10; '{part}' is not one.");
                        return [];
                    }
                    values.Add(v);
                }
                if (values.Count == 0)
                {
                    result.AddError($"{name} needs at least one value, e.g. {name} 10,20,10.");
                }
                return [.. values];
            },
        };
        return option;
    }

    /// <summary>Adds a validator requiring the option's value, when given, to be a finite number above zero.</summary>
    public static Option<double?> PositiveDouble(string name, string description)
    {
        var option = new Option<double?>(name) { Description = description };
        option.Validators.Add(result =>
        {
            double? v = result.GetValueOrDefault<double?>();
            if (v is { } x && (!(x > 0) || double.IsInfinity(x)))
            {
                result.AddError($"{name} must be a finite number > 0 (got {x.ToString(CultureInfo.InvariantCulture)}).");
            }
        });
        return option;
    }

    /// <summary>An integer option with a default and a lower bound checked at parse time.</summary>
    public static Option<int> BoundedInt(string name, string description, int defaultValue, int minimum)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(result =>
        {
            int v = result.GetValueOrDefault<int>();
            if (v < minimum)
            {
                result.AddError($"{name} must be ≥ {minimum} (got {v}).");
            }
        });
        return option;
    }

    /// <summary>An optional integer option (null: the command picks a default) with a lower bound.</summary>
    public static Option<int?> OptionalInt(string name, string description, int minimum)
    {
        var option = new Option<int?>(name) { Description = description };
        option.Validators.Add(result =>
        {
            int? v = result.GetValueOrDefault<int?>();
            if (v < minimum)
            {
                result.AddError($"{name} must be ≥ {minimum} (got {v}).");
            }
        });
        return option;
    }

    /// <summary>An optional comma-separated list of finite positive numbers, e.g. <c>--epsilons 1e-4,1e-5</c> (null when absent).</summary>
    public static Option<double[]?> DoubleList(string name, string description)
    {
        return new Option<double[]?>(name)
        {
            Description = description,
            CustomParser = result =>
            {
                string text = string.Join(",", result.Tokens.Select(t => t.Value));
                var values = new List<double>();
                foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(v > 0) || double.IsInfinity(v))
                    {
                        result.AddError($"{name} takes a comma-separated list of finite numbers > 0, e.g. {name} 0.5,1,2; '{part}' is not one.");
                        return null;
                    }
                    values.Add(v);
                }
                if (values.Count == 0)
                {
                    result.AddError($"{name} needs at least one value, e.g. {name} 0.5,1,2.");
                }
                return [.. values];
            },
        };
    }
}
