//! Tokens of the query language. The lexer never fails: a byte sequence
//! that is no token becomes [`Tok::Bad`], so the parser reports the offset of
//! the first token that does not fit, whatever made it not fit.

use super::parser::Op;

/// Whitespace as C's `isspace` in the "C" locale (includes `\v` and `\f`,
/// which `u8::is_ascii_whitespace` does not).
pub(crate) fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What a token is; identifiers and keywords are both `Word`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    Word(&'a [u8]),
    /// `signed` records a leading '-', which `LIMIT` does not accept.
    Int {
        value: i64,
        signed: bool,
    },
    Decimal(f64),
    Text(Vec<u8>),
    Star,
    Comma,
    LParen,
    RParen,
    Semi,
    Param,
    Op(Op),
    End,
    /// An unknown byte, an unterminated text or an integer outside int64.
    Bad,
}

/// A token and the byte offset where it starts (what parse errors report).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'a> {
    pub(crate) tok: Tok<'a>,
    pub(crate) offset: usize,
}

/// Splits `src` into tokens, ending with `End` (at `src.len()`) or at the
/// first `Bad` token: nothing after a bad token can matter.
pub(crate) fn tokenize(src: &[u8]) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    loop {
        while src.get(pos).copied().is_some_and(is_space) {
            pos += 1;
        }
        let (tok, next) = lex_one(src, pos);
        let last = matches!(tok, Tok::End | Tok::Bad);
        tokens.push(Token { tok, offset: pos });
        if last {
            return tokens;
        }
        pos = next;
    }
}

/// Lexes the token starting at `pos` (not whitespace); returns it and the
/// offset just past it.
fn lex_one(src: &[u8], pos: usize) -> (Tok<'_>, usize) {
    let Some(&byte) = src.get(pos) else {
        return (Tok::End, pos);
    };
    let next = src.get(pos + 1).copied();
    match byte {
        b'A'..=b'Z' | b'a'..=b'z' | b'_' => lex_word(src, pos),
        b'0'..=b'9' => lex_number(src, pos),
        b'-' if next.is_some_and(|b| b.is_ascii_digit()) => lex_number(src, pos),
        b'\'' => lex_text(src, pos),
        b'!' if next == Some(b'=') => (Tok::Op(Op::Ne), pos + 2),
        b'<' if next == Some(b'>') => (Tok::Op(Op::Ne), pos + 2),
        b'<' if next == Some(b'=') => (Tok::Op(Op::Le), pos + 2),
        b'>' if next == Some(b'=') => (Tok::Op(Op::Ge), pos + 2),
        _ => (single_byte(byte), pos + 1),
    }
}

/// Tokens made of exactly one byte; anything else is `Bad`.
fn single_byte(byte: u8) -> Tok<'static> {
    match byte {
        b'*' => Tok::Star,
        b',' => Tok::Comma,
        b'(' => Tok::LParen,
        b')' => Tok::RParen,
        b';' => Tok::Semi,
        b'?' => Tok::Param,
        b'=' => Tok::Op(Op::Eq),
        b'<' => Tok::Op(Op::Lt),
        b'>' => Tok::Op(Op::Gt),
        _ => Tok::Bad,
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn lex_word(src: &[u8], start: usize) -> (Tok<'_>, usize) {
    let end = skip_while(src, start + 1, |b| b.is_ascii_alphanumeric() || b == b'_');
    (Tok::Word(&src[start..end]), end)
}

/// `-?[0-9]+(.[0-9]+)?`; an integer that does not fit int64 is `Bad`.
fn lex_number(src: &[u8], start: usize) -> (Tok<'_>, usize) {
    let signed = src[start] == b'-';
    let digits_end = skip_while(src, start + usize::from(signed), |b| b.is_ascii_digit());
    let has_fraction = src.get(digits_end) == Some(&b'.')
        && src.get(digits_end + 1).is_some_and(|b| b.is_ascii_digit());
    if has_fraction {
        let end = skip_while(src, digits_end + 1, |b| b.is_ascii_digit());
        return (Tok::Decimal(parse_ascii(&src[start..end])), end);
    }
    let tok = match ascii_str(&src[start..digits_end]).parse::<i64>() {
        Ok(value) => Tok::Int { value, signed },
        Err(_) => Tok::Bad,
    };
    (tok, digits_end)
}

/// Correctly rounded, as glibc's `strtod`; too large becomes +-infinity.
/// The lexer only passes `-?[0-9]+.[0-9]+`, which always parses.
fn parse_ascii(text: &[u8]) -> f64 {
    ascii_str(text).parse().unwrap_or(f64::NAN)
}

/// The lexer only calls this on ASCII digits, '-' and '.'.
fn ascii_str(text: &[u8]) -> &str {
    std::str::from_utf8(text).unwrap_or_default()
}

/// A single-quoted text; `Bad` (at the opening quote) if unterminated.
fn lex_text(src: &[u8], start: usize) -> (Tok<'_>, usize) {
    let mut value = Vec::new();
    let mut pos = start + 1;
    while let Some(&byte) = src.get(pos) {
        match byte {
            b'\'' if src.get(pos + 1) == Some(&b'\'') => {
                value.push(b'\'');
                pos += 2;
            }
            b'\'' => return (Tok::Text(value), pos + 1),
            b'\\' => {
                let Some(&escaped) = src.get(pos + 1) else {
                    break;
                };
                value.push(unescape(escaped));
                pos += 2;
            }
            _ => {
                value.push(byte);
                pos += 1;
            }
        }
    }
    (Tok::Bad, src.len())
}

/// The byte that `\x` stands for: the MySQL escapes, else `x` itself.
fn unescape(byte: u8) -> u8 {
    match byte {
        b'0' => 0,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'Z' => 0x1a,
        other => other,
    }
}

fn skip_while(src: &[u8], mut pos: usize, keep: impl Fn(u8) -> bool) -> usize {
    while src.get(pos).copied().is_some_and(&keep) {
        pos += 1;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &[u8]) -> Vec<(Tok<'_>, usize)> {
        tokenize(src)
            .into_iter()
            .map(|t| (t.tok, t.offset))
            .collect()
    }

    #[test]
    fn numbers() {
        assert_eq!(
            toks(b"-0 7 -9223372036854775808 1.5"),
            vec![
                (
                    Tok::Int {
                        value: 0,
                        signed: true
                    },
                    0
                ),
                (
                    Tok::Int {
                        value: 7,
                        signed: false
                    },
                    3
                ),
                (
                    Tok::Int {
                        value: i64::MIN,
                        signed: true
                    },
                    5
                ),
                (Tok::Decimal(1.5), 26),
                (Tok::End, 29),
            ]
        );
        assert_eq!(toks(b"9223372036854775808"), vec![(Tok::Bad, 0)]);
        assert_eq!(toks(b"-0.0")[0].0, Tok::Decimal(-0.0));
        assert!(matches!(toks(b"-0.0")[0].0, Tok::Decimal(x) if x.is_sign_negative()));
    }

    #[test]
    fn minus_alone_and_trailing_dot_are_bad() {
        assert_eq!(toks(b"- 1"), vec![(Tok::Bad, 0)]);
        assert_eq!(
            toks(b"5."),
            vec![
                (
                    Tok::Int {
                        value: 5,
                        signed: false
                    },
                    0
                ),
                (Tok::Bad, 1)
            ]
        );
    }

    #[test]
    fn operators() {
        let ops: Vec<_> = toks(b"= != <> < <= > >=")
            .into_iter()
            .map(|t| t.0)
            .collect();
        let expected = [Op::Eq, Op::Ne, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];
        for (tok, op) in ops.iter().zip(expected) {
            assert_eq!(*tok, Tok::Op(op));
        }
        assert_eq!(toks(b"!"), vec![(Tok::Bad, 0)]);
    }

    #[test]
    fn text_escapes() {
        let src = b"'a''b\\0\\n\\r\\t\\Z\\\\\\'\\\"\\q\x00'";
        assert_eq!(
            toks(src)[0].0,
            Tok::Text(b"a'b\0\n\r\t\x1a\\'\"q\0".to_vec())
        );
        assert_eq!(toks(b"  'abc"), vec![(Tok::Bad, 2)]);
        assert_eq!(toks(b"'abc\\'"), vec![(Tok::Bad, 0)]);
    }

    #[test]
    fn vertical_tab_is_space() {
        assert_eq!(toks(b"\x0b\x0c*"), vec![(Tok::Star, 2), (Tok::End, 3)]);
    }
}
