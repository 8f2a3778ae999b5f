//! Tokens of the query language. The lexer never fails: a byte sequence
//! that is no token becomes [`Tok::Bad`], so the parser reports the offset of
//! the first token that does not fit, whatever made it not fit.

/// A comparison operator (`<>` is `Ne`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    /// Applies the operator with `PartialOrd`, so DOUBLE follows IEEE
    /// (NaN compares unequal to everything), as C's operators do.
    pub fn eval<T: PartialOrd + ?Sized>(self, left: &T, right: &T) -> bool {
        match self {
            Op::Eq => left == right,
            Op::Ne => left != right,
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
        }
    }
}

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

/// A lazy lexer: the parser pulls one token at a time, so a query is lexed
/// only up to the first token that does not fit. Bytes are read by index,
/// never through per-byte references, which keeps Miri's borrow tracking
/// linear on 64 KiB queries.
pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a [u8]) -> Lexer<'a> {
        Lexer { src, pos: 0 }
    }

    /// The next token; `End` (at `src.len()`) forever once input runs out.
    pub(crate) fn next_token(&mut self) -> Token<'a> {
        self.pos = skip_spaces(self.src, self.pos);
        let offset = self.pos;
        let (tok, next) = self.lex_one();
        self.pos = next;
        Token { tok, offset }
    }

    fn byte(&self, pos: usize) -> Option<u8> {
        (pos < self.src.len()).then(|| self.src[pos])
    }

    /// Lexes the token at `self.pos` (not whitespace); returns it and the
    /// offset just past it.
    fn lex_one(&self) -> (Tok<'a>, usize) {
        let pos = self.pos;
        let Some(byte) = self.byte(pos) else {
            return (Tok::End, pos);
        };
        let next = self.byte(pos + 1);
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => self.lex_word(),
            b'0'..=b'9' => self.lex_number(),
            b'-' if next.is_some_and(|b| b.is_ascii_digit()) => self.lex_number(),
            b'\'' => self.lex_text(),
            b'!' if next == Some(b'=') => (Tok::Op(Op::Ne), pos + 2),
            b'<' if next == Some(b'>') => (Tok::Op(Op::Ne), pos + 2),
            b'<' if next == Some(b'=') => (Tok::Op(Op::Le), pos + 2),
            b'>' if next == Some(b'=') => (Tok::Op(Op::Ge), pos + 2),
            _ => (single_byte(byte), pos + 1),
        }
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`.
    fn lex_word(&self) -> (Tok<'a>, usize) {
        let end = self.skip_while(self.pos + 1, |b| b.is_ascii_alphanumeric() || b == b'_');
        (Tok::Word(&self.src[self.pos..end]), end)
    }

    /// `-?[0-9]+(.[0-9]+)?`; an integer that does not fit int64 is `Bad`.
    fn lex_number(&self) -> (Tok<'a>, usize) {
        let start = self.pos;
        let signed = self.src[start] == b'-';
        let digits_end = self.skip_while(start + usize::from(signed), |b| b.is_ascii_digit());
        let has_fraction = self.byte(digits_end) == Some(b'.')
            && self
                .byte(digits_end + 1)
                .is_some_and(|b| b.is_ascii_digit());
        if has_fraction {
            let end = self.skip_while(digits_end + 1, |b| b.is_ascii_digit());
            return (Tok::Decimal(parse_decimal(&self.src[start..end])), end);
        }
        let tok = match ascii_str(&self.src[start..digits_end]).parse::<i64>() {
            Ok(value) => Tok::Int { value, signed },
            Err(_) => Tok::Bad,
        };
        (tok, digits_end)
    }

    /// A single-quoted text; `Bad` (at the opening quote) if unterminated.
    fn lex_text(&self) -> (Tok<'a>, usize) {
        let mut value = Vec::new();
        let mut pos = self.pos + 1;
        while let Some(byte) = self.byte(pos) {
            match byte {
                b'\'' if self.byte(pos + 1) == Some(b'\'') => {
                    value.push(b'\'');
                    pos += 2;
                }
                b'\'' => return (Tok::Text(value), pos + 1),
                b'\\' => {
                    let Some(escaped) = self.byte(pos + 1) else {
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
        (Tok::Bad, self.src.len())
    }

    fn skip_while(&self, mut pos: usize, keep: impl Fn(u8) -> bool) -> usize {
        while self.byte(pos).is_some_and(&keep) {
            pos += 1;
        }
        pos
    }
}

/// The offset of the first non-whitespace byte at or after `pos`.
fn skip_spaces(src: &[u8], mut pos: usize) -> usize {
    while pos < src.len() && is_space(src[pos]) {
        pos += 1;
    }
    pos
}

/// True if `src` holds only whitespace and ';' (`LC_ER_EMPTY_QUERY`).
pub(crate) fn is_blank(src: &[u8]) -> bool {
    let mut pos = 0;
    while pos < src.len() && (is_space(src[pos]) || src[pos] == b';') {
        pos += 1;
    }
    pos == src.len()
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

/// Correctly rounded, as glibc's `strtod`; too large becomes +-infinity.
/// The lexer only passes `-?[0-9]+.[0-9]+`, which always parses.
fn parse_decimal(text: &[u8]) -> f64 {
    ascii_str(text).parse().unwrap_or(f64::NAN)
}

/// The lexer only calls this on ASCII digits, '-' and '.'.
fn ascii_str(text: &[u8]) -> &str {
    std::str::from_utf8(text).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every token up to and including the first `End` or `Bad`.
    fn toks(src: &[u8]) -> Vec<(Tok<'_>, usize)> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token();
            let last = matches!(token.tok, Tok::End | Tok::Bad);
            out.push((token.tok, token.offset));
            if last {
                return out;
            }
        }
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
    fn blank_means_whitespace_and_semicolons() {
        assert!(is_blank(b""));
        assert!(is_blank(b" ;\t;\x0b\x0c\r\n"));
        assert!(!is_blank(b" ; x"));
    }

    #[test]
    fn vertical_tab_is_space() {
        assert_eq!(toks(b"\x0b\x0c*"), vec![(Tok::Star, 2), (Tok::End, 3)]);
    }
}
