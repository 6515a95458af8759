using System.Collections.Generic;

namespace SharpGrad.Generator.Parsing;

/// <summary>
/// Conditions over a module's own constructor arguments, in a canonical text the constructor evaluation writes
/// (<see cref="CtorValue.Condition"/>): an atom is a bool parameter (<c>bidirectional</c>) or an equality of sizes
/// (<c>mode==2</c>, <c>cin==cout</c>); <c>!c</c>, <c>(a&amp;&amp;b)</c> and <c>(a||b)</c> combine them. A layer option given by such a
/// condition is tested on the built layer (one region per value, <see cref="GraphParser"/>); knowing the conditions lets the
/// parser compile only the combinations of option values the arguments can reach (<c>bidirectional</c> and
/// <c>!bidirectional</c> are never both true), and a size a condition chooses (<c>flag ? 2 * h : h</c>) is one size of its own
/// (<see cref="Size"/>).
/// </summary>
internal static class Conditions
{
    /// <summary>The size <c>condition ? a : b</c> as one atom: <c>(bidirectional?2*hidden:hidden)</c>, bound when the module is built.</summary>
    /// <remarks>
    /// Written one way for one choice: a negated condition is turned round (<c>!flag ? h : 2 * h</c> is <c>(flag?2*h:h)</c>), so two
    /// sizes a flag decides compare equal whenever they choose the same sizes by the same condition.
    /// </remarks>
    public static string Size(string condition, string whenTrue, string whenFalse)
        => condition.Length > 1 && condition[0] == '!' ? Size(condition.Substring(1), whenFalse, whenTrue) : "(" + condition + "?" + whenTrue + ":" + whenFalse + ")";

    /// <summary>True for a size a condition chooses (<see cref="Size"/>): <c>(bidirectional?2*hidden:hidden)</c>.</summary>
    public static bool IsSize(string atom) => Split(atom) is not null;

    /// <summary>The condition and the two sizes of a size a condition chooses (<see cref="Size"/>), or null for any other text.</summary>
    public static (string Condition, string WhenTrue, string WhenFalse)? Split(string atom)
    {
        if (atom.Length < 5 || atom[0] != '(' || atom[atom.Length - 1] != ')') return null;
        int i = 1;
        if (Parse(atom, ref i, null, null) is null || i >= atom.Length || atom[i] != '?') return null;
        string condition = atom.Substring(1, i - 1);
        int question = i, colon = -1, depth = 0;
        for (int k = question + 1; k < atom.Length - 1; k++)
        {
            char c = atom[k];
            if (c == '(') depth++;
            else if (c == ')') depth--;
            else if (c == ':' && depth == 0)
            {
                colon = k;
                break;
            }
            if (depth < 0) return null;
        }
        if (colon < 0) return null;
        string whenTrue = atom.Substring(question + 1, colon - question - 1), whenFalse = atom.Substring(colon + 1, atom.Length - colon - 2);
        return whenTrue.Length > 0 && whenFalse.Length > 0 ? (condition, whenTrue, whenFalse) : null;
    }

    /// <summary>
    /// A size a condition chooses, resolved where the condition's value is known (a region compiled for one value of the options the
    /// condition gives): the chosen size, itself resolved when it is such a size too (nested: <c>(a?(b?3*h:2*h):h)</c>); the atom
    /// unchanged where <paramref name="value"/> cannot decide the condition (null).
    /// </summary>
    public static string Resolve(string atom, System.Func<string, bool?> value)
    {
        if (Split(atom) is not { } size || value(size.Condition) is not bool chosen) return atom;
        string text = chosen ? size.WhenTrue : size.WhenFalse;
        return IsSize(text) ? Resolve(text, value) : text;
    }

    /// <summary>The atom <c>left==right</c> for two sizes (null when a text would not read back as one atom).</summary>
    public static string? Comparison(string left, string right)
        => IsAtomText(left) && IsAtomText(right) ? left + "==" + right : null;

    private static bool IsAtomText(string text)
    {
        if (text.Length == 0) return false;
        foreach (char c in text)
        {
            if (c is '(' or ')' or '&' or '|' or '!' or '?' or ':' or '=') return false;
        }
        return true;
    }

    /// <summary>The atoms of a condition (its parameters and comparisons), in order of first appearance; null when it does not parse.</summary>
    public static List<string>? Atoms(string condition)
    {
        var atoms = new List<string>();
        int i = 0;
        return Parse(condition, ref i, atoms, null) is not null && i == condition.Length ? atoms : null;
    }

    /// <summary>The value of a condition with each atom's value given (null when it does not parse).</summary>
    public static bool? Evaluate(string condition, System.Func<string, bool> atom)
    {
        int i = 0;
        var value = Parse(condition, ref i, null, atom);
        return i == condition.Length ? value : null;
    }

    /// <summary>Reads one condition from <paramref name="i"/>: its value (false when no atom values are given), or null when it does not parse.</summary>
    private static bool? Parse(string s, ref int i, List<string>? atoms, System.Func<string, bool>? value)
    {
        if (i >= s.Length) return null;
        if (s[i] == '!')
        {
            i++;
            return Parse(s, ref i, atoms, value) is bool b ? !b : null;
        }
        if (s[i] == '(')
        {
            i++;
            if (Parse(s, ref i, atoms, value) is not bool left || i + 2 > s.Length) return null;
            string op = s.Substring(i, 2);
            if (op is not ("&&" or "||")) return null;
            i += 2;
            if (Parse(s, ref i, atoms, value) is not bool right || i >= s.Length || s[i] != ')') return null;
            i++;
            return op == "&&" ? left && right : left || right;
        }
        int start = i;
        while (i < s.Length && s[i] is not (')' or '&' or '|' or '(' or '!' or '?' or ':')) i++;
        if (i == start) return null;
        string name = s.Substring(start, i - start);
        if (atoms is not null && !atoms.Contains(name)) atoms.Add(name);
        return value?.Invoke(name) ?? false;
    }
}
