//! The settings table of `docs/OPERATIONS.md`, generated from [`SETTINGS`]: it sits
//! between [`BEGIN`] and [`END`]; a test fails when the committed one is stale, and
//! `MFN_UPDATE_DOCS=1 cargo test -p mfn-server --lib config::docs` rewrites it.

use super::Environment;
use super::settings::{Fallback, SETTINGS, Setting, Type, Unit};

/// The line before the generated table.
pub const BEGIN: &str =
    "<!-- settings:begin (generated from crates/mfn-server/src/config/settings.rs) -->";
/// The line after the generated table.
pub const END: &str = "<!-- settings:end -->";

/// One row per setting: names, file key, default, accepted values, meaning.
pub fn markdown() -> String {
    let mut out = String::from(
        "| variable (aliases; flag) | file key | default | values | meaning |\n\
         |---|---|---|---|---|\n",
    );
    for s in SETTINGS {
        let file = s.file_key_name().map_or("—".into(), |k| format!("`{k}`"));
        let (names, default, values) = (names(s), describe_default(s), values(s.ty));
        out += &format!("| {names} | {file} | {default} | {values} | {} |\n", s.doc);
    }
    out
}

/// `doc` with the text between [`BEGIN`] and [`END`] replaced by [`markdown`]; `None`
/// when the markers are missing.
pub fn splice(doc: &str) -> Option<String> {
    let start = doc.find(BEGIN)? + BEGIN.len();
    let end = start + doc[start..].find(END)?;
    Some(format!("{}\n{}{}", &doc[..start], markdown(), &doc[end..]))
}

fn names(s: &Setting) -> String {
    let mut extra: Vec<String> = s.aliases.iter().map(|a| format!("`{a}`")).collect();
    if let Some((long, aliases)) = s.flag {
        let flags = std::iter::once(long).chain(aliases.iter().copied());
        let flags: Vec<String> = flags.map(|f| format!("`--{f}`")).collect();
        extra.push(format!("flag {}", flags.join(", ")));
    }
    match extra.is_empty() {
        true => format!("`{}`", s.var),
        false => format!("`{}` ({})", s.var, extra.join("; ")),
    }
}

/// The default as the table shows it (Markdown): the value with its unit, per
/// environment where it differs, or what an unset or computed default means.
pub fn describe_default(s: &Setting) -> String {
    let unit = match s.ty {
        Type::Int(_, _, unit) => unit_name(unit),
        _ => "",
    };
    let shown = |env| match s.default_text(env).unwrap_or_default() {
        text if text.is_empty() => "none".to_owned(),
        text => format!("`{text}`{unit}"),
    };
    use Environment::{Dev, Prod, Staging};
    match s.default {
        Fallback::Value(_) => shown(Dev),
        Fallback::ByEnv(_, staging, prod) if staging == prod => {
            format!("{} in dev, {} otherwise", shown(Dev), shown(Prod))
        }
        Fallback::ByEnv(..) => [Dev, Staging, Prod]
            .map(|e| format!("{} in {e}", shown(e)))
            .join(", "),
        Fallback::Computed(doc, _) | Fallback::Unset(doc) => doc.to_owned(),
    }
}

fn values(ty: Type) -> String {
    match ty {
        Type::Int(min, max, unit) => format!("[{min}, {max}]{}", unit_name(unit)),
        Type::Choice(names, _) => format!("`{}`", names.join("`, `")),
        Type::Bool => "boolean".to_owned(),
        Type::Ip => "an IP address".to_owned(),
        Type::Text => "non-empty text".to_owned(),
        Type::Url => "`http://` or `https://` URL".to_owned(),
        Type::GraphStore => "`embedded` or a `redis://` URL".to_owned(),
        Type::Path => "a path".to_owned(),
        Type::File => "an existing file".to_owned(),
        Type::Origins => "comma list (or TOML array) of `*` or `scheme://host[:port]`".to_owned(),
        Type::Hosts => "comma list (or TOML array) of `*`, `host` or `host:port`".to_owned(),
        Type::Keys => "comma list; hashed at once, never stored".to_owned(),
    }
}

fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "",
        Unit::Mb => " MB",
        Unit::Kb => " KB",
        Unit::Ms => " ms",
        Unit::S => " s",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_md_has_the_generated_settings_table() {
        // Cargo sets the variable when it runs the test too: read it then, so a test
        // binary built in another checkout (and reused by cargo) reads this one's docs.
        let dir = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let path = format!("{dir}/../../docs/OPERATIONS.md");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let expected = splice(&text).expect("docs/OPERATIONS.md lacks the settings markers");
        if text != expected && std::env::var_os("MFN_UPDATE_DOCS").is_some() {
            std::fs::write(&path, expected).unwrap();
        } else if text != expected {
            panic!(
                "the settings table in docs/OPERATIONS.md is stale; regenerate it with \
                 `MFN_UPDATE_DOCS=1 cargo test -p mfn-server --lib config::docs`"
            );
        }
    }

    #[test]
    fn every_setting_has_one_row_and_unique_names() {
        let table = markdown();
        assert_eq!(table.lines().count(), SETTINGS.len() + 2);
        assert!(!table.contains("||"), "an empty cell:\n{table}");
        let mut names: Vec<_> = SETTINGS.iter().flat_map(Setting::env_names).collect();
        let mut keys: Vec<_> = SETTINGS.iter().filter_map(Setting::file_key_name).collect();
        let (n, k) = (names.len(), keys.len());
        names.sort_unstable();
        names.dedup();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!((names.len(), keys.len()), (n, k), "a name or key twice");
    }
}
