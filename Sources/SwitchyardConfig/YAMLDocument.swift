import Yams

/// Turns YAML text into Yams' node tree, mapping a syntax error to a
/// diagnostic at the line and column libyaml reports.
enum YAMLDocument {
    /// The document's root, or nil after logging a syntax error. An empty
    /// document reads as null (which sections treat as "nothing set").
    static func parse(_ text: String, file: String, log: DiagnosticLog) -> Node? {
        do {
            // YAMLScalar decides what a scalar means, so no tag is ever resolved:
            // the basic resolver spares building Yams' default one, whose
            // regular expressions bring up ICU's regex engine (~2 MB resident).
            if let node = try Yams.compose(yaml: text, .basic) { return node }
            return Node.scalar(.init("", .implicit, .plain, nil))
        } catch let error as YamlError {
            let (line, column, message) = describe(error, text: text)
            log.error(SourceLocation(file: file, line: line, column: column), message)
            return nil
        } catch {
            log.error(SourceLocation(file: file, line: 1, column: 1), "invalid yaml: \(error)")
            return nil
        }
    }

    /// Line, column and message for a Yams error.
    static func describe(_ error: YamlError, text: String) -> (Int, Int, String) {
        switch error {
        case .scanner(let context, let problem, let mark, let yaml),
             .parser(let context, let problem, let mark, let yaml),
             .composer(let context, let problem, let mark, let yaml):
            if problem == "but found another document" {
                return (mark.line, mark.column, "invalid yaml: a config is one document; a second one starts here")
            }
            var message = "invalid yaml: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            message += hint(line: line(mark.line, of: yaml), column: mark.column, context: context?.text ?? "")
                .nonEmpty ?? indentationHint(problem: problem, line: mark.line, column: mark.column,
                                             context: context.map { ($0.text, $0.mark.line, $0.mark.column) }, text: yaml)
            return (mark.line, mark.column, message)
        case .reader(let problem, let offset, _, let yaml):
            let (line, column) = offset.map { position(ofCharacter: $0, in: yaml) } ?? (1, 1)
            return (line, column, "invalid yaml: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let message = duplicates.count == 1
                ? "key '\(duplicates[0])' appears more than once in one mapping; give it once"
                : "keys " + duplicates.map { "'\($0)'" }.joined(separator: ", ")
                    + " appear more than once in one mapping; give each once"
            // Yams points at the mapping; point at the repeat where a block mapping lets us find it.
            let key = duplicates.first.map { "\($0)" } ?? ""
            if let (line, first) = repeatedKey(key, mappingLine: context.mark.line, column: context.mark.column, in: text) {
                return (line, context.mark.column, message + " (first at line \(first))")
            }
            return (context.mark.line, context.mark.column, message)
        default:
            return (1, 1, "invalid yaml: \(error)")
        }
    }

    /// In a block mapping whose keys start at `column` from `mappingLine`:
    /// the line of the second `key:` and of the first, or nil (flow mappings,
    /// quoted or complex keys).
    static func repeatedKey(_ key: String, mappingLine: Int, column: Int, in text: String) -> (Int, Int)? {
        guard !key.isEmpty else { return nil }
        let lines = Self.lines(of: text)
        func startsWithKey(_ rest: Substring) -> Bool {
            rest.hasPrefix(key) && rest.dropFirst(key.count).drop(while: { $0 == " " }).hasPrefix(":")
        }
        var found: [Int] = []
        for number in mappingLine...max(mappingLine, lines.count) where number <= lines.count {
            let line = lines[number - 1]
            let indent = line.prefix { $0 == " " }.count
            if number == mappingLine {
                // The first key may follow "- " on the mapping's first line.
                if startsWithKey(line.dropFirst(column - 1)) { found.append(number) }
                continue
            }
            let content = line.dropFirst(indent)
            if content.isEmpty || content.hasPrefix("#") { continue }
            if indent < column - 1 { break }   // the mapping ended
            if indent == column - 1, startsWithKey(content) { found.append(number) }
            if found.count == 2 { return (found[1], found[0]) }
        }
        return nil
    }

    /// A likely cause for two common mistakes: a tab in the indentation,
    /// and an unquoted `{param}` inside a `{ … }` flow mapping.
    static func hint(line: Substring, column: Int, context: String) -> String {
        let scalars = Array(line.unicodeScalars)
        if column >= 1, column <= scalars.count, scalars[column - 1] == "\t" {
            return "; yaml is indented with spaces, not tabs"
        }
        if context.contains("flow mapping"), line.contains("/{") {
            return "; inside { … } quote a path with parameters: path: \"/users/{id}\""
        }
        return ""
    }

    /// Where the indentation went wrong, for the errors libyaml gives when
    /// it does: a line indented deeper than the key before it (read as that
    /// key's value, so "mapping values are not allowed"), a line between two
    /// mappings' columns ("did not find expected key"), and a line at a
    /// list's column without `- `. Names the lines and columns involved.
    static func indentationHint(problem: String, line number: Int, column: Int,
                                context: (text: String, line: Int, column: Int)?, text: String) -> String {
        let lines = Self.lines(of: text)
        guard number >= 1, number <= lines.count else { return "" }
        let here = lines[number - 1]
        let start = indentation(here) + 1
        let before = previousContentLine(before: number, in: lines)

        if problem.hasPrefix("mapping values are not allowed") {
            // `key: a: b` on one line: the value holds ': '.
            let prefix = here.unicodeScalars.prefix(max(0, column - 1))
            if String(String.UnicodeScalarView(prefix)).contains(": ") {
                return "; a value that holds ': ' must be quoted, e.g. key: \"a: b\""
            }
            // A line deeper than the key above: read as the rest of its value.
            if let (previous, keyColumn, key) = before.flatMap({ p in keyOf(lines[p - 1]).map { (p, $0.column, $0.key) } }),
               start > keyColumn {
                return "; check the indentation: line \(number) starts at column \(start), deeper than '\(key):' on line "
                    + "\(previous) (column \(keyColumn)), so it reads as part of that value; "
                    + "move it to column \(keyColumn) to make it a key beside '\(key):'"
            }
            return "; check the indentation, or quote a value that holds ': '"
        }
        guard let context else { return "" }
        let aboveColumn = before.flatMap { keyOf(lines[$0 - 1])?.column }
        if problem == "did not find expected key", context.text.contains("block mapping") {
            // A list item whose '- ' is out of line with the items before it.
            if here.drop(while: { $0 == " " }).hasPrefix("- "),
               let item = previousItemLine(before: number, in: lines), indentation(lines[item - 1]) + 1 != start {
                return "; check the indentation: line \(number)'s '- ' is at column \(start), but the item on line \(item) "
                    + "starts at column \(indentation(lines[item - 1]) + 1)"
            }
            var columns = "line \(context.line)'s start at column \(context.column)"
            if let before, let aboveColumn, aboveColumn != context.column, before != context.line {
                columns += ", line \(before)'s at column \(aboveColumn)"
            }
            return "; check the indentation: line \(number) starts at column \(start), where no mapping's keys are "
                + "(\(columns))"
        }
        if problem.hasPrefix("did not find expected '-'"), context.text.contains("block collection") {
            if start == context.column {
                var fix = "start a new entry with '- '"
                if let aboveColumn, aboveColumn > start { fix = "indent it to column \(aboveColumn) to continue the entry above, or " + fix }
                return "; check the indentation: line \(number) is at the column of the list that starts at line "
                    + "\(context.line), but without '- '; \(fix)"
            }
            var columns = "the list's '- ' at column \(context.column) (line \(context.line))"
            if let before, let aboveColumn, aboveColumn != context.column {
                columns += " and the keys of line \(before) at column \(aboveColumn)"
            }
            return "; check the indentation: line \(number) starts at column \(start), between \(columns)"
        }
        if problem.hasPrefix("could not find expected ':'") {
            return "; is the ':' after the key on line \(context.line) missing?"
        }
        return ""
    }

    /// Spaces before a line's content.
    static func indentation(_ line: Substring) -> Int { line.prefix { $0 == " " }.count }

    /// The nearest line before `number` with content other than a comment.
    static func previousContentLine(before number: Int, in lines: [Substring]) -> Int? {
        var index = number - 1
        while index >= 1 {
            let content = lines[index - 1].drop { $0 == " " }
            if !content.isEmpty, !content.hasPrefix("#") { return index }
            index -= 1
        }
        return nil
    }

    /// The nearest line before `number` that starts a list item (`- `).
    static func previousItemLine(before number: Int, in lines: [Substring]) -> Int? {
        var index = number - 1
        while index >= 1 {
            if lines[index - 1].drop(while: { $0 == " " }).hasPrefix("- ") { return index }
            index -= 1
        }
        return nil
    }

    /// A block mapping key on `line` (after any `- `) and its 1-based column.
    static func keyOf(_ line: Substring) -> (key: String, column: Int)? {
        var column = indentation(line) + 1
        var rest = line.drop { $0 == " " }
        while rest.hasPrefix("- ") {
            let dropped = rest.dropFirst(2)
            let spaces = dropped.prefix { $0 == " " }.count
            column += 2 + spaces
            rest = dropped.dropFirst(spaces)
        }
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        let key = rest[..<colon]
        let after = rest[colon...].dropFirst()
        guard !key.isEmpty, !key.contains(" "), !key.hasPrefix("{"), !key.hasPrefix("["),
              after.isEmpty || after.hasPrefix(" ") else { return nil }
        return (String(key), column)
    }

    /// The lines of `text`, ended by LF, CRLF or a lone CR, as libyaml
    /// counts them (a file saved with CRLF is one grapheme per line end).
    static func lines(of text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
    }

    /// Line `number` (1-based) of `text`, or nothing.
    static func line(_ number: Int, of text: String) -> Substring {
        let lines = Self.lines(of: text)
        return number >= 1 && number <= lines.count ? lines[number - 1] : ""
    }

    /// 1-based line and column (in Unicode scalars, as libyaml counts) of the
    /// `offset`th character.
    static func position(ofCharacter offset: Int, in text: String) -> (Int, Int) {
        var line = 1, column = 1, seen = 0
        for character in text {
            if seen == offset { break }
            if character == "\n" || character == "\r\n" || character == "\r" {
                line += 1; column = 1
            } else {
                column += character.unicodeScalars.count
            }
            seen += 1
        }
        return (line, column)
    }
}

private extension String {
    /// Nil when empty, for `??` chains.
    var nonEmpty: String? { isEmpty ? nil : self }
}
