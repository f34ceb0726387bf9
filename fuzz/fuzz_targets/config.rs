//! Configuration: the TOML file, the environment and the flags of `mfn serve`, through
//! `ServerConfig::from_sources` / `from_flags` (parse, ranges, cross-setting rules) and
//! `unknown_env_vars`; and the API keys file through `security::keys::parse_file`.
//!
//! Input: the first byte picks the keys file (odd) or the configuration (even). For the
//! configuration the text is `TOML`, then a line `%%`, then `NAME=value` lines: a name
//! that is a setting's variable or alias sets it, `--flag=value` sets a flag, and a name
//! of decimal digits picks the setting by its index. `MFN_CONFIG` is never set, so no
//! file is read.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use mfn_server::config::{Flag, SETTINGS, ServerConfig, unknown_env_vars};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some(text) = mfn_fuzz::text(rest) else {
        return;
    };
    if selector & 1 == 1 {
        let _ = mfn_server::security::keys::parse_file("keys.txt", text);
        return;
    }
    let (toml, env) = text.split_once("\n%%\n").unwrap_or((text, ""));
    let mut vars = HashMap::new();
    let mut flags = Vec::new();
    for line in env.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if let Some(flag) = name.strip_prefix("--") {
            let Some(setting) = SETTINGS.iter().find(|s| {
                s.flag
                    .is_some_and(|(long, aliases)| long == flag || aliases.contains(&flag))
            }) else {
                continue;
            };
            if setting.var != "MFN_CONFIG" {
                flags.push(Flag {
                    var: setting.var,
                    name: name.to_owned(),
                    value: value.to_owned(),
                });
            }
            continue;
        }
        let name = match name.parse::<usize>() {
            Ok(i) => SETTINGS[i % SETTINGS.len()].var.to_owned(),
            Err(_) => name.to_owned(),
        };
        vars.insert(name, value.to_owned());
    }
    // The file is named by MFN_CONFIG only through `from_flags`; never read one here.
    vars.retain(|name, _| name != "MFN_CONFIG");
    let _ = unknown_env_vars(&vars);
    let _ = ServerConfig::from_sources(&vars, Some(("mfn.toml", toml)));
    if !flags.is_empty() {
        let _ = ServerConfig::from_flags(&flags, &vars);
    }
});
