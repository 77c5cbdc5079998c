import Yams

/// Turns YAML text into Yams' node tree, mapping a syntax error to a
/// diagnostic at the line and column libyaml reports.
enum YAMLDocument {
    /// The document's root, or nil after logging a syntax error. An empty
    /// document reads as null (which sections treat as "nothing set").
    static func parse(_ text: String, file: String, log: DiagnosticLog) -> Node? {
        do {
            if let node = try Yams.compose(yaml: text) { return node }
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
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
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

    /// Line `number` (1-based) of `text`, or nothing.
    static func line(_ number: Int, of text: String) -> Substring {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return number >= 1 && number <= lines.count ? lines[number - 1] : ""
    }

    /// 1-based line and column (in Unicode scalars, as libyaml counts) of the
    /// `offset`th character.
    static func position(ofCharacter offset: Int, in text: String) -> (Int, Int) {
        var line = 1, column = 1, seen = 0
        for character in text {
            if seen == offset { break }
            if character == "\n" || character == "\r\n" {
                line += 1; column = 1
            } else {
                column += character.unicodeScalars.count
            }
            seen += 1
        }
        return (line, column)
    }
}
