// The generator's state-dict naming: the generated plumbing writes each member's name as a string literal, so the
// runtime reads the names the generator chose and needs no copy of these rules.
using System.Text;

namespace SharpGrad.Shared;

/// <summary>PyTorch-style state names for C# members.</summary>
internal static class Naming
{
    /// <summary>
    /// The state-dict name of a member: a leading <c>m_</c> and leading underscores are removed, then PascalCase and
    /// camelCase become snake_case (<c>RunningMean</c> → <c>running_mean</c>, <c>denseBlock</c> → <c>dense_block</c>,
    /// <c>HTTPLayer</c> → <c>http_layer</c>, <c>fc2</c> → <c>fc2</c>, <c>Layer2Norm</c> → <c>layer2_norm</c>).
    /// </summary>
    public static string ToStateName(string memberName)
    {
        string name = memberName;
        if (name.Length > 2 && name[0] == 'm' && name[1] == '_') name = name.Substring(2);
        int start = 0;
        while (start < name.Length && name[start] == '_') start++;
        if (start == name.Length) return memberName;
        name = name.Substring(start);

        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0 && name[i - 1] != '_')
                {
                    char prev = name[i - 1];
                    bool nextIsLower = i + 1 < name.Length && char.IsLower(name[i + 1]);
                    bool boundary =
                        char.IsLower(prev)                            // denseBlock → dense_block
                        || (char.IsUpper(prev) && nextIsLower)        // HTTPLayer → http_layer
                        || (char.IsDigit(prev) && nextIsLower);       // Layer2Norm → layer2_norm, but Conv2D → conv2d
                    if (boundary) sb.Append('_');
                }
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }
}
