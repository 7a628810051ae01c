using System.Globalization;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;

namespace KillToken.Core.Optimization;

/// <summary>
/// Token counts for models whose provider publishes no tokenizer (Anthropic, Gemini, Bedrock, …: <see cref="TokenCounter.Estimate"/>;
/// OpenAI-family models are counted exactly by <see cref="TokenCounter"/>). A single
/// allocation-free pass of character-class rules that mirror how the o200k and cl100k BPE tokenizers split text, tuned
/// to never fall more than <see cref="StatedUnderCountMargin"/> below the larger of the two counts on the fixture set in
/// <c>tests/KillToken.Tests/Optimization/Fixtures/token-fixtures.json</c> (English, German, CJK, Arabic, emoji, code, JSON,
/// base64 and more). The gateway does not know each provider's tokenizer, so it estimates for the costlier one: over-counting
/// only holds more money back for a moment, under-counting lets a call cost more than it reserved.
/// </summary>
public static class TokenEstimator
{
    /// <summary>The cookbook's 3 tokens of framing per message plus 1 for the role (every role is one token).</summary>
    public const int PerMessageOverhead = 4;
    public const int PerRequestOverhead = 3;

    /// <summary>The most the estimate may fall below the real o200k/cl100k count on the fixture set (the calibration test's bound).</summary>
    public const double StatedUnderCountMargin = 0.05;

    public static long EstimateMessages(IReadOnlyList<JsonObject> messages)
    {
        long total = PerRequestOverhead;
        foreach (var message in messages)
        {
            total += EstimateMessage(message);
        }

        return total;
    }

    /// <summary>One message: framing, content, and its name when present.</summary>
    public static long EstimateMessage(JsonObject message)
    {
        var total = PerMessageOverhead + EstimateText(TextOf(message));
        if (ChatRequestParser.AsString(message["name"]) is { Length: > 0 } name)
        {
            total += EstimateText(name) + 1;
        }

        return total;
    }

    public static long EstimateText(string text) => EstimateText(text.AsSpan());

    /// <summary>
    /// The rules, in hundredths of a token so fractional costs add up without floating point:
    /// <list type="bullet">
    /// <item>Latin words (split where a lower-case letter meets an upper-case one, as o200k does; "'s" joins): up to 8
    /// letters one token, one more per 5 letters beyond. In text where accented letters are at least 1 in
    /// <see cref="AccentedTextDensity"/> letters (German, French, Spanish…, which cl100k splits much more than English)
    /// a word costs 1 + 0.4 per letter beyond 4 instead. Each accented letter costs one more.</item>
    /// <item>Digits one token per 3; a space before a number is a token of its own (both tokenizers split it off).</item>
    /// <item>Random-looking runs (16+ letters and digits switching class every 4 characters or less: base64, hex, ids):
    /// 0.7 per letter, digits per 3.</item>
    /// <item>Punctuation runs 1 + 0.2 per further character, newlines right after them free (they merge); a single mark
    /// glued between a word character and a letter (".Name", "(x", "_id") 0.2; a line break 1; indentation (2+ spaces) 1.</item>
    /// <item>Per character: CJK ideographs 1.35, kana 1.05, Hangul 1.4, CJK punctuation 1, Cyrillic 0.55, Arabic 0.85,
    /// other scripts' letters 1.3 and their combining marks 1.2, emoji and other supplementary characters 3, symbols
    /// (dingbats, arrows) 2, typographic punctuation (– … € “) 1, zero-width joiner 2, variation selector 1.</item>
    /// </list>
    /// </summary>
    public static long EstimateText(ReadOnlySpan<char> text)
    {
        long other = 0;        // everything but Latin word pieces
        long plainWords = 0;   // Latin word pieces, English rule
        long accentedWords = 0; // Latin word pieces, rule for accented-Latin languages
        var accentedLetters = 0;
        var latinLetters = 0;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == ' ' && i + 1 < text.Length && Classify(text[i + 1]) != CharKind.Space)
            {
                i++; // a single space joins the next word: the commonest character, decided first
                continue;
            }

            var kind = Classify(c);
            if (kind is CharKind.Lower or CharKind.Upper or CharKind.Digit or CharKind.Latin)
            {
                i = ScanWordRun(text, i, ref other, ref plainWords, ref accentedWords, ref accentedLetters, ref latinLetters);
                continue;
            }

            switch (kind)
            {

                case CharKind.Newline:
                {
                    // Like the tokenizers' \s*[\r\n]+: blank lines and the spaces between them are one token; the
                    // indentation after the last line break is a token of its own.
                    var end = ++i;
                    while (i < text.Length && Classify(text[i]) is CharKind.Newline or CharKind.Space)
                    {
                        if (Classify(text[i++]) == CharKind.Newline)
                        {
                            end = i;
                        }
                    }

                    i = end;
                    other += Token;
                    break;
                }

                case CharKind.Space:
                {
                    // A single space joins the next word; two or more (indentation, alignment) are a token.
                    var start = i;
                    while (i < text.Length && Classify(text[i]) == CharKind.Space)
                    {
                        i++;
                    }

                    if (i - start >= 2 || i == text.Length)
                    {
                        other += Token;
                    }

                    break;
                }

                case CharKind.Punctuation:
                {
                    var start = i;
                    while (i < text.Length && Classify(text[i]) == CharKind.Punctuation)
                    {
                        i++;
                    }

                    var length = i - start;
                    if (length == 1 && i < text.Length && IsWordLetter(Classify(text[i]))
                        && (start == 0 || Classify(text[start - 1]) is not (CharKind.Space or CharKind.Newline)))
                    {
                        other += GluedPunctuation; // ".Collections", "(quantity", "request_id": mostly one token with the word
                    }
                    else
                    {
                        other += Token + ((length - 1) * FurtherPunctuation); // "\":\"", "());" are one or two tokens
                        while (i < text.Length && Classify(text[i]) == CharKind.Newline)
                        {
                            i++; // ";\n\n", "},\n": line breaks after punctuation merge with it
                        }
                    }

                    break;
                }

                default:
                    other += CostOf(kind);
                    i++;
                    break;
            }
        }

        var accentedText = accentedLetters > 0 && (long)accentedLetters * AccentedTextDensity >= latinLetters;
        return (other + (accentedText ? accentedWords : plainWords) + Token - 1) / Token;
    }

    // Costs in hundredths of a token.
    private const int Token = 100;
    private const int AccentedLetterExtra = 100;
    private const int SpaceBeforeNumber = 100;
    private const int GluedPunctuation = 20;
    private const int FurtherPunctuation = 20;
    private const int RandomLetter = 70;
    private const int AccentedWordPerLetter = 40;
    private const int AccentedWordFreeLetters = 4;
    private const int PlainWordWholeLetters = 8;
    private const int PlainWordLettersPerExtraToken = 5;
    private const int RandomRunMinimumLength = 16;
    private const int RandomRunCharactersPerSwitch = 4;

    /// <summary>Accented letters at least 1 in this many Latin letters: the text is in a language cl100k splits finely.</summary>
    private const int AccentedTextDensity = 250;

    /// <summary>
    /// One run of Latin letters and digits (with "'" inside a word). Costs its word pieces and digit groups, or, when it
    /// looks random (base64, hex, ids: long, and switching between letters and digits or lower and upper case at least
    /// every 4 characters), 0.7 per letter and a token per 3 digits — BPE vocabularies hold no pieces of random strings.
    /// </summary>
    private static int ScanWordRun(ReadOnlySpan<char> text, int start, ref long other, ref long plainWords, ref long accentedWords,
        ref int accentedLetters, ref int latinLetters)
    {
        // Fast path for most of prose: a plain word ("the", "Hello") ended by a space or punctuation.
        var end = char.IsAsciiLetterUpper(text[start]) ? start + 1 : start;
        while (end < text.Length && char.IsAsciiLetterLower(text[end]))
        {
            end++;
        }

        if (end > start && (end == text.Length || (text[end] != '\'' && AsciiKindOrOther(text[end]) is CharKind.Space or CharKind.Newline or CharKind.Punctuation)))
        {
            plainWords += PlainWord(end - start);
            accentedWords += AccentedWord(end - start);
            latinLetters += end - start;
            return end;
        }

        long digits = 0, plain = 0, accented = 0, random = 0;
        int switches = 0, piece = 0, randomPiece = 0, accents = 0, letters = 0;
        var previous = CharKind.Space; // none yet
        var i = start;

        // Stretch by stretch of one kind (lower case, upper case, digits), each consumed by a tight loop: most of a
        // prompt is lower-case letters, and this keeps them at one compare per character.
        while (i < text.Length)
        {
            var c = text[i];
            var kind = Classify(c);
            if (kind == CharKind.Latin || (c == '\'' && IsInnerApostrophe(text, start, i)))
            {
                kind = CharKind.Lower; // accented letters count as lower case; "don't", "l'heure" stay one word
            }
            else if (kind is not (CharKind.Lower or CharKind.Upper or CharKind.Digit))
            {
                break;
            }

            var stretchStart = i;
            switch (kind)
            {
                case CharKind.Lower:
                    while (i < text.Length)
                    {
                        c = text[i];
                        if (char.IsAsciiLetterLower(c))
                        {
                            i++;
                        }
                        else if (c >= 128 && ClassifyNonAscii(c) == CharKind.Latin)
                        {
                            accents++;
                            i++;
                        }
                        else if (c == '\'' && IsInnerApostrophe(text, start, i))
                        {
                            i++;
                        }
                        else
                        {
                            break;
                        }
                    }

                    break;
                case CharKind.Upper:
                    while (++i < text.Length && char.IsAsciiLetterUpper(text[i]))
                    {
                    }

                    break;
                default:
                    while (++i < text.Length && char.IsAsciiDigit(text[i]))
                    {
                    }

                    break;
            }

            // A new piece where letters meet digits, or lower case meets upper case ("iPhone"; "HTTPServer" stays whole).
            if (stretchStart > start && !(previous == CharKind.Upper && kind == CharKind.Lower))
            {
                switches++;
                if (previous == CharKind.Digit)
                {
                    digits += DigitGroups(piece);
                }
                else
                {
                    plain += PlainWord(piece);
                    accented += AccentedWord(piece);
                }

                piece = 0;
            }

            // Random strings are costed by letter and digit stretches (cl100k does not split on case).
            if (stretchStart > start && (kind == CharKind.Digit) != (previous == CharKind.Digit))
            {
                random += RandomStretch(randomPiece, previous == CharKind.Digit);
                randomPiece = 0;
            }

            var length = i - stretchStart;
            if (kind != CharKind.Digit)
            {
                letters += length;
            }

            previous = kind;
            piece += length;
            randomPiece += length;
        }

        if (previous == CharKind.Digit)
        {
            digits += DigitGroups(piece);
        }
        else
        {
            plain += PlainWord(piece);
            accented += AccentedWord(piece);
        }

        random += RandomStretch(randomPiece, previous == CharKind.Digit);

        var runLength = i - start;
        if (start > 0 && text[start - 1] == ' ' && char.IsAsciiDigit(text[start]))
        {
            other += SpaceBeforeNumber;
        }

        if (runLength >= RandomRunMinimumLength && switches * RandomRunCharactersPerSwitch >= runLength)
        {
            other += random;
        }
        else
        {
            other += digits + (accents * AccentedLetterExtra);
            plainWords += plain;
            accentedWords += accented;
            accentedLetters += accents;
            latinLetters += letters;
        }

        return i;
    }

    /// <summary>An apostrophe inside a word (not its first character, letters on both sides).</summary>
    private static bool IsInnerApostrophe(ReadOnlySpan<char> text, int runStart, int i) =>
        i > runStart && i + 1 < text.Length && IsWordLetter(Classify(text[i - 1])) && IsWordLetter(Classify(text[i + 1]));

    private static long DigitGroups(int digits) => (digits + 2) / 3 * Token;

    private static long PlainWord(int letters) =>
        letters <= PlainWordWholeLetters ? Token : Token + ((letters - PlainWordWholeLetters + PlainWordLettersPerExtraToken - 1) / PlainWordLettersPerExtraToken * Token);

    private static long AccentedWord(int letters) => Token + (Math.Max(0, letters - AccentedWordFreeLetters) * AccentedWordPerLetter);

    private static long RandomStretch(int length, bool digits) => digits ? DigitGroups(length) : Math.Max(Token, length * RandomLetter);

    private static bool IsWordLetter(CharKind kind) => kind is CharKind.Lower or CharKind.Upper or CharKind.Latin;

    private static int CostOf(CharKind kind) => kind switch
    {
        CharKind.Han => 135,
        CharKind.Kana => 105,
        CharKind.Hangul => 140,
        CharKind.CjkPunctuation => 100,
        CharKind.Cyrillic => 55,
        CharKind.Arabic => 85,
        CharKind.OtherLetter => 130,
        CharKind.Mark => 120,
        CharKind.HighSurrogate => 300, // an emoji or other supplementary character: 4 UTF-8 bytes, mostly 3 tokens
        CharKind.LowSurrogate => 0,
        CharKind.ZeroWidthJoiner => 200,
        CharKind.VariationSelector => 100,
        CharKind.Symbol => 200,
        CharKind.TypographicPunctuation => 100,
        _ => 100,
    };

    private enum CharKind : byte
    {
        Lower,
        Upper,
        Digit,
        Space,
        Newline,
        Punctuation,
        Latin, // a non-ASCII Latin letter: é, ü, ß, ñ, ơ
        Han,
        Kana,
        Hangul,
        CjkPunctuation,
        Cyrillic,
        Arabic,
        OtherLetter,
        Mark,
        HighSurrogate,
        LowSurrogate,
        ZeroWidthJoiner,
        VariationSelector,
        Symbol,
        TypographicPunctuation,
    }

    // ASCII by table: prompts are mostly ASCII, and this is the hot loop.
    private static ReadOnlySpan<byte> AsciiKinds =>
    [
        3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 3, 3, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, // controls; \t space, \n \r newline
        3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 5, 5, 5, 5, 5, 5, // space !"#$%&'()*+,-./ 0-9 :;<=>?
        5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5, 5, 5, 5, // @ A-Z [\]^_
        5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 5, 5, 5, 3, // ` a-z {|}~ DEL
    ];

    private static CharKind Classify(char c) => c < 128 ? (CharKind)AsciiKinds[c] : ClassifyNonAscii(c);

    /// <summary>An ASCII character's kind, and <see cref="CharKind.OtherLetter"/> for any other (not classified: cheaper).</summary>
    private static CharKind AsciiKindOrOther(char c) => c < 128 ? (CharKind)AsciiKinds[c] : CharKind.OtherLetter;

    private static CharKind ClassifyNonAscii(char c)
    {
        switch (c)
        {
            case >= '\uD800' and <= '\uDBFF': return CharKind.HighSurrogate;
            case >= '\uDC00' and <= '\uDFFF': return CharKind.LowSurrogate;
            case (>= '\u4E00' and <= '\u9FFF') or (>= '\u3400' and <= '\u4DBF') or (>= '\uF900' and <= '\uFAFF'): return CharKind.Han;
            case (>= '\u3040' and <= '\u30FF') or (>= '\u31F0' and <= '\u31FF') or (>= '\uFF66' and <= '\uFF9F'): return CharKind.Kana;
            case (>= '\uAC00' and <= '\uD7AF') or (>= '\u1100' and <= '\u11FF') or (>= '\u3130' and <= '\u318F'): return CharKind.Hangul;
            case (>= '\u3000' and <= '\u303F') or (>= '\uFF00' and <= '\uFFEF'): return CharKind.CjkPunctuation;
            case '\u200D': return CharKind.ZeroWidthJoiner;
            case >= '\uFE00' and <= '\uFE0F': return CharKind.VariationSelector;
        }

        switch (char.GetUnicodeCategory(c))
        {
            case UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter:
                return c switch
                {
                    < '\u0250' or (>= '\u1E00' and <= '\u1EFF') => CharKind.Latin,
                    >= '\u0400' and <= '\u052F' => CharKind.Cyrillic,
                    (>= '\u0600' and <= '\u06FF') or (>= '\u0750' and <= '\u077F') or (>= '\uFB50' and <= '\uFDFF') or (>= '\uFE70' and <= '\uFEFF') => CharKind.Arabic,
                    _ => CharKind.OtherLetter,
                };
            case UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark:
                return CharKind.Mark;
            case UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Control:
                return CharKind.Space;
        }

        return c switch
        {
            (>= '\u2000' and <= '\u206F') or (>= '\u20A0' and <= '\u20CF') => CharKind.TypographicPunctuation,
            >= '\u2000' => CharKind.Symbol,
            _ => CharKind.Punctuation, // Latin-1 and other marks: « » ¿ ° ©
        };
    }

    /// <summary>All text of a message: string content, text parts, and tool-call arguments.</summary>
    public static string TextOf(JsonObject message)
    {
        var content = message["content"];
        var text = content switch
        {
            JsonArray parts => string.Join("\n", parts.OfType<JsonObject>().Select(p => ChatRequestParser.AsString(p["text"]) ?? string.Empty)),
            _ => ChatRequestParser.AsString(content) ?? string.Empty,
        };

        if (message["tool_calls"] is JsonArray calls)
        {
            text += string.Concat(calls.OfType<JsonObject>().Select(c => (ChatRequestParser.AsString(ChatRequestParser.Field(c["function"], "name")) ?? "") + (ChatRequestParser.AsString(ChatRequestParser.Field(c["function"], "arguments")) ?? "")));
        }

        return text;
    }
}
