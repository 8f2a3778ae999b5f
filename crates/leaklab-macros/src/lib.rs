//! `#[leaklab::test]`, re-exported by the `leaklab` crate: use it from
//! there. A proc-macro crate of its own because proc macros must be; it
//! has no dependencies (only `proc_macro`), so it adds nothing else to a
//! user's build.
//!
//! ```ignore
//! #[leaklab::test]
//! fn my_binding_is_clean() { /* leaklab::check::measure(...) */ }
//! ```
//! becomes
//! ```ignore
//! #[test]
//! fn my_binding_is_clean() {
//!     ::leaklab::check::in_a_counted_process(
//!         &::leaklab::check::test_path(module_path!(), "my_binding_is_clean"),
//!         move || { /* the body */ },
//!     )
//! }
//! ```

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Makes a test a counted test; see `leaklab::test`.
///
/// ```ignore
/// #[leaklab::test]
/// fn boxes_are_freed() {
///     leaklab::check::measure(10, || drop(Box::new(7u32))).unwrap().assert_clean();
/// }
/// ```
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return error(
            Span::call_site(),
            "#[leaklab::test] takes no arguments (write #[should_panic] or #[ignore] beside it)",
        );
    }
    match expand(item) {
        Ok(tokens) => tokens,
        Err((span, message)) => error(span, message),
    }
}

/// `#[test]` + the item with its body wrapped in the counted-process call.
fn expand(item: TokenStream) -> Result<TokenStream, (Span, &'static str)> {
    let mut tokens: Vec<TokenTree> = item.into_iter().collect();
    let name = fn_name(&tokens)?;
    let Some(TokenTree::Group(body)) = tokens.pop() else {
        return Err((
            Span::call_site(),
            "#[leaklab::test] goes on a function with a body",
        ));
    };
    if body.delimiter() != Delimiter::Brace {
        return Err((
            body.span(),
            "#[leaklab::test] goes on a function with a body",
        ));
    }
    if tokens
        .iter()
        .any(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "async"))
    {
        return Err((name.span(), "#[leaklab::test] does not take an async fn"));
    }
    let mut out: Vec<TokenTree> = attribute("test");
    out.extend(tokens);
    out.push(TokenTree::Group(Group::new(
        Delimiter::Brace,
        wrapped(&name, body),
    )));
    Ok(out.into_iter().collect())
}

/// The identifier after `fn`.
fn fn_name(tokens: &[TokenTree]) -> Result<Ident, (Span, &'static str)> {
    let at = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "fn"))
        .ok_or((Span::call_site(), "#[leaklab::test] goes on a function"))?;
    match tokens.get(at + 1) {
        Some(TokenTree::Ident(name)) => Ok(name.clone()),
        _ => Err((
            Span::call_site(),
            "#[leaklab::test] goes on a named function",
        )),
    }
}

/// `::leaklab::check::in_a_counted_process(&::leaklab::check::test_path(
/// module_path!(), "name"), move || BODY)`
fn wrapped(name: &Ident, body: Group) -> TokenStream {
    let mut path_args: Vec<TokenTree> = Vec::new();
    path_args.extend(macro_call("module_path"));
    path_args.push(punct(','));
    path_args.push(TokenTree::Literal(Literal::string(&name.to_string())));
    let mut args: Vec<TokenTree> = vec![punct('&')];
    args.extend(path("check", "test_path"));
    args.push(TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        path_args.into_iter().collect(),
    )));
    args.push(punct(','));
    args.push(TokenTree::Ident(Ident::new("move", Span::call_site())));
    args.push(punct('|'));
    args.push(punct('|'));
    args.push(TokenTree::Group(body));
    let mut call = path("check", "in_a_counted_process");
    call.push(TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        args.into_iter().collect(),
    )));
    call.into_iter().collect()
}

/// `::leaklab::module::function`
fn path(module: &str, function: &str) -> Vec<TokenTree> {
    let mut out = Vec::new();
    for segment in ["leaklab", module, function] {
        out.push(TokenTree::Punct(Punct::new(':', Spacing::Joint)));
        out.push(TokenTree::Punct(Punct::new(':', Spacing::Alone)));
        out.push(TokenTree::Ident(Ident::new(segment, Span::call_site())));
    }
    out
}

/// `name!()`
fn macro_call(name: &str) -> Vec<TokenTree> {
    vec![
        TokenTree::Ident(Ident::new(name, Span::call_site())),
        punct('!'),
        TokenTree::Group(Group::new(Delimiter::Parenthesis, TokenStream::new())),
    ]
}

/// `#[name]`
fn attribute(name: &str) -> Vec<TokenTree> {
    let inner: TokenStream = [TokenTree::Ident(Ident::new(name, Span::call_site()))]
        .into_iter()
        .collect();
    vec![
        punct('#'),
        TokenTree::Group(Group::new(Delimiter::Bracket, inner)),
    ]
}

fn punct(c: char) -> TokenTree {
    TokenTree::Punct(Punct::new(c, Spacing::Alone))
}

/// `compile_error!("message")` at `span`.
fn error(span: Span, message: &str) -> TokenStream {
    let mut message = Literal::string(message);
    message.set_span(span);
    let mut call = macro_call("compile_error");
    call[0].set_span(span);
    call[2] = TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        [TokenTree::Literal(message)].into_iter().collect(),
    ));
    call.push(punct(';'));
    call.into_iter().collect()
}
