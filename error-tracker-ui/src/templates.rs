//! The page templates (`templates/*.html`) and the stylesheet, embedded in the binary.

use minijinja::{AutoEscape, Environment};

/// The one stylesheet.
pub(crate) const STYLE_CSS: &str = include_str!("../static/style.css");

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("list.html", include_str!("../templates/list.html")),
    ("detail.html", include_str!("../templates/detail.html")),
    ("occurrence.html", include_str!("../templates/occurrence.html")),
    ("occurrence_body.html", include_str!("../templates/occurrence_body.html")),
    ("confirm.html", include_str!("../templates/confirm.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("trail.html", include_str!("../templates/trail.html")),
];

/// The template environment: HTML autoescaping for every template,
/// whatever its name, since every stored string is hostile.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in TEMPLATES {
        // The templates are part of the crate; a syntax error in one is caught by the tests.
        env.add_template(name, source).unwrap_or_else(|e| panic!("template {name} does not parse: {e}"));
    }
    env
}

#[cfg(test)]
mod tests {
    #[test]
    fn templates_parse_and_never_mark_data_safe() {
        let _ = super::environment();
        for (name, source) in super::TEMPLATES {
            assert!(!source.contains("|safe") && !source.contains("| safe"), "{name} uses |safe");
            assert!(!source.contains("<script"), "{name} has a script");
            assert!(!source.contains("style=\""), "{name} has an inline style (blocked by the CSP)");
        }
    }
}
