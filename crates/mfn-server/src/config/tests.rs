use super::settings::Type;
use super::*;

type Pairs<'a> = &'a [(&'a str, &'a str)];

fn vars(pairs: Pairs<'_>) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

fn load(pairs: Pairs<'_>) -> Result<ServerConfig, ConfigError> {
    ServerConfig::from_sources(&vars(pairs), None)
}

fn load_file(pairs: Pairs<'_>, toml: &str) -> Result<ServerConfig, ConfigError> {
    ServerConfig::from_sources(&vars(pairs), Some(("mfn.toml", toml)))
}

/// `flags` are `(variable, flag, value)`.
fn flags(
    flags: &[(&'static str, &str, &str)],
    pairs: Pairs<'_>,
) -> Result<ServerConfig, ConfigError> {
    let flag = |(var, name, value): &(&'static str, &str, &str)| {
        let (name, value) = ((*name).into(), (*value).into());
        Flag { var, name, value }
    };
    ServerConfig::from_flags(&flags.iter().map(flag).collect::<Vec<_>>(), &vars(pairs))
}

/// The error's key and message.
fn error(result: Result<ServerConfig, ConfigError>) -> (String, String) {
    let e = result.expect_err("expected an error");
    (e.key, e.message)
}

/// A directory with two files; their paths.
fn pem_files() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| {
        std::fs::write(dir.path().join(name), "pem").unwrap();
        dir.path().join(name).to_str().unwrap().to_owned()
    };
    let (a, b) = (path("a.pem"), path("b.pem"));
    (dir, a, b)
}

const MIB: usize = 1024 * 1024;

#[test]
fn default_is_what_an_empty_environment_builds_and_the_documented_values() {
    let c = load(&[]).unwrap();
    assert_eq!(c, ServerConfig::default());
    assert_eq!(ServerConfig::from_env(&HashMap::new()).unwrap(), c);
    assert_eq!(
        (WsConfig::default(), NetworkConfig::default()),
        (c.ws.clone(), c.network.clone())
    );
    // The service layer's own defaults are the table's, but for the store.
    let mut service = ServiceConfig::default();
    service.graphs.data_dir = Some("mfn-data".into());
    assert_eq!(c.service, service);
    // Setting every documented default explicitly changes nothing.
    for s in SETTINGS {
        if let Some(text) = s.default_text(Environment::Dev).filter(|t| !t.is_empty()) {
            assert_eq!(load(&[(s.var, &text)]).unwrap(), c, "{}={text}", s.var);
        }
    }
    assert_eq!(c.grpc_addr().to_string(), "127.0.0.1:50051");
    assert_eq!(c.http_addr().to_string(), "127.0.0.1:8080");
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(
        (c.service.workers, c.service.cache_bytes),
        (cores.min(1024), 64 * MIB)
    );
    assert_eq!(
        (c.network.max_message_bytes, c.ws.max_message_bytes),
        (10 * MIB, 64 * 1024)
    );
    assert_eq!(c.network.keepalive_time, Duration::from_secs(30));
    assert_eq!(
        (c.auth.mode, c.telemetry.log_format),
        (AuthMode::Off, LogFormat::Plain)
    );
    assert_eq!(
        (c.tls.settings(), c.telemetry.otlp_endpoint.clone()),
        (None, None)
    );
    let memory = load(&[("MFN_DATA_DIR", ":memory:")]).unwrap();
    assert_eq!(memory.service.graphs.data_dir, None);
}

#[test]
fn the_environment_selects_defaults_and_explicit_values_win() {
    for name in ["staging", "prod", "PROD", "production"] {
        let c = load(&[("MFN_ENV", name)]).unwrap();
        assert_ne!(c.env, Environment::Dev, "{name}");
        assert_eq!(c.grpc_addr().to_string(), "0.0.0.0:50051", "{name}");
        assert!(c.network.cors_allowed_origins.is_empty(), "{name}");
        assert_eq!(
            (c.telemetry.log_format, c.auth.mode),
            (LogFormat::Json, AuthMode::Signed)
        );
        assert_eq!(c.mcp.allowed_hosts, ["*"], "{name}");
    }
    // The environment may come from the file and still select the defaults.
    let c = load_file(&[], "env = \"prod\"").unwrap();
    assert_eq!((c.env, c.auth.mode), (Environment::Prod, AuthMode::Signed));
    let c = load(&[
        ("MFN_ENV", "prod"),
        ("MFN_HOST", "::1"),
        (
            "MFN_CORS_ORIGINS",
            "https://a.example, http://b.example:8080,",
        ),
        ("MFN_LOG_FORMAT", "Plain"),
        ("MFN_AUTH_MODE", "key"),
    ])
    .unwrap();
    assert_eq!(c.grpc_addr().to_string(), "[::1]:50051");
    let origins = &c.network.cors_allowed_origins;
    assert_eq!(origins, &["https://a.example", "http://b.example:8080"]);
    assert_eq!(
        (c.telemetry.log_format, c.auth.mode),
        (LogFormat::Plain, AuthMode::Key)
    );
}

#[test]
fn every_alias_sets_the_field_of_its_variable() {
    type Check = fn(&ServerConfig) -> bool;
    let cases: &[(&str, &str, Check)] = &[
        ("GRPC_PORT", "7001", |c| c.network.grpc_port == 7001),
        ("GRPC_MAX_MESSAGE_SIZE", "3", |c| {
            c.network.max_message_bytes == 3 * MIB
        }),
        ("GRPC_MAX_CONCURRENT_STREAMS", "7", |c| {
            c.network.max_concurrent_streams == 7
        }),
        ("GRPC_KEEPALIVE_TIME_MS", "2000", |c| {
            c.network.keepalive_time.as_millis() == 2000
        }),
        ("GRPC_KEEPALIVE_TIMEOUT_MS", "1500", |c| {
            c.network.keepalive_timeout.as_millis() == 1500
        }),
        ("GRPC_MAX_WORKERS", "3", |c| c.service.workers == 3),
        ("GRPC_RATE_LIMIT_RPS", "11", |c| c.rate_limits.rps == 11),
        ("GRPC_RATE_LIMIT_CONCURRENT", "12", |c| {
            c.rate_limits.concurrent == 12
        }),
        ("GRPC_AUTH_ENABLED", "true", |c| {
            c.auth.mode == AuthMode::Key
        }),
        ("GRPC_TLS_ENABLED", "false", |c| c.tls.settings().is_none()),
    ];
    for &(alias, value, check) in cases {
        assert!(check(&load(&[(alias, value)]).unwrap()), "{alias}={value}");
        if let Some(s) = SETTINGS.iter().find(|s| s.aliases.contains(&alias)) {
            assert!(
                check(&load(&[(s.var, value)]).unwrap()),
                "{}={value}",
                s.var
            );
        }
    }
    // The same meaning under both names is fine, even spelled differently; empty is unset.
    for pairs in [
        [("MFN_GRPC_PORT", "7001"), ("GRPC_PORT", "7001")],
        [("MFN_GRPC_PORT", " "), ("GRPC_PORT", "7001")],
    ] {
        assert_eq!(load(&pairs).unwrap().network.grpc_port, 7001);
    }
    let tls = [("MFN_TLS_ENABLED", "off"), ("GRPC_TLS_ENABLED", "FALSE")];
    assert_eq!(load(&tls).unwrap().tls.settings(), None);
    let empty = [("MFN_GRPC_PORT", ""), ("GRPC_PORT", "  "), ("MFN_ENV", "")];
    assert_eq!(load(&empty).unwrap(), ServerConfig::default());
}

#[test]
fn flag_beats_environment_beats_file_beats_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfn.toml");
    let file = "grpc_port = 6000\nmax_steps = 500\nws_queue_mb = 2\nkeepalive_time_ms = 5000\n\
                cors_origins = [\"https://a.example\", \"https://b.example\"]\n";
    std::fs::write(&path, file).unwrap();
    let path = path.to_str().unwrap();
    let config = [("MFN_CONFIG", "--config", path)];
    let c = flags(
        &config,
        &[("MFN_MAX_STEPS", ""), ("MFN_WS_MAX_MESSAGE_KB", "8")],
    )
    .unwrap();
    assert_eq!((c.network.grpc_port, c.network.http_port), (6000, 8080));
    assert_eq!(
        (c.service.limits.max_steps, c.ws.queue_bytes),
        (500, 2 * MIB)
    );
    assert_eq!(
        (c.ws.max_message_bytes, c.network.keepalive_time.as_secs()),
        (8 * 1024, 5)
    );
    let origins = &c.network.cors_allowed_origins;
    assert_eq!(origins, &["https://a.example", "https://b.example"]);
    assert_eq!(c.config_file.as_deref(), Some(std::path::Path::new(path)));
    let env = [("GRPC_PORT", "7002"), ("MFN_CONFIG", path)];
    assert_eq!(
        ServerConfig::from_env(&vars(&env))
            .unwrap()
            .network
            .grpc_port,
        7002
    );
    let both = [config[0], ("MFN_GRPC_PORT", "--grpc-port", "7001")];
    assert_eq!(flags(&both, &env).unwrap().network.grpc_port, 7001);
    // The flag replaces the variable and its alias: no conflict between them. An empty
    // flag is no flag.
    let env = [
        ("MFN_GRPC_PORT", "7001"),
        ("GRPC_PORT", "7002"),
        ("MFN_ENV", "prod"),
    ];
    let given = [
        ("MFN_GRPC_PORT", "--grpc-port", "6001"),
        ("MFN_ENV", "--env", "staging"),
    ];
    let c = flags(&given, &env).unwrap();
    assert_eq!((c.network.grpc_port, c.env), (6001, Environment::Staging));
    let c = flags(&[("MFN_HOST", "--host", " ")], &[]).unwrap();
    assert_eq!(c.network.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
    // A file string is no integer; a comma list is a list.
    let c = load_file(&[], "cors_origins = \"https://a.example,*\"").unwrap();
    assert_eq!(c.network.cors_allowed_origins, ["https://a.example", "*"]);
    assert!(
        load_file(&[], "cors_origins = []")
            .unwrap()
            .network
            .cors_allowed_origins
            .is_empty()
    );
}

#[test]
fn every_range_is_checked_at_both_edges_under_every_name() {
    let mut checked = 0;
    for s in SETTINGS {
        let Type::Int(min, max, _) = s.ty else {
            continue;
        };
        let (min, max) = (i128::from(min), i128::from(max));
        let file_key = s.file_key_name().unwrap();
        let names = s.env_names().map(|n| (n.to_owned(), false));
        for (name, in_file) in names.chain([(file_key.to_string(), true)]) {
            let set = |n: i128| match in_file {
                true => load_file(&[], &format!("{name} = {n}")),
                false => load(&[(&name, &n.to_string())]),
            };
            for n in [min, max] {
                set(n).unwrap_or_else(|e| panic!("{name} = {n}: {e}"));
            }
            let key = if in_file {
                format!("mfn.toml: {name}")
            } else {
                name.clone()
            };
            for n in [min - 1, max + 1] {
                let message = format!("must be in [{min}, {max}], got {n}");
                assert_eq!(error(set(n)), (key.clone(), message));
            }
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} integer settings");
    let e = load(&[("MFN_MAX_WORKERS", "0")]).unwrap_err().to_string();
    assert_eq!(
        e,
        "invalid configuration: MFN_MAX_WORKERS: must be in [1, 1024], got 0"
    );
}

/// `VAR=value & VAR=value` or `file: toml` (`\n` for newlines), `=>`, the error as shown.
const BAD: &str = r#"
MFN_ENV=production-eu => MFN_ENV: expected one of dev, staging, prod, got "production-eu"
MFN_HOST=localhost => MFN_HOST: expected an IP address, got "localhost"
MFN_MAX_STEPS=ten => MFN_MAX_STEPS: expected an integer, got "ten"
MFN_GRPC_PORT=7001 & GRPC_PORT=7002 => MFN_GRPC_PORT, GRPC_PORT: conflicting values "7001" and "7002"; set only one
MFN_TLS_ENABLED=false & GRPC_TLS_ENABLED=1 => MFN_TLS_ENABLED, GRPC_TLS_ENABLED: conflicting values "false" and "1"; set only one
GRPC_PORT=9000 & MFN_HTTP_PORT=9000 => MFN_HTTP_PORT: must differ from GRPC_PORT (both 9000)
MFN_GRPC_PORT=8080 => MFN_HTTP_PORT: must differ from MFN_GRPC_PORT (both 8080)
GRPC_AUTH_ENABLED=maybe => GRPC_AUTH_ENABLED: expected a boolean (true/false/1/0/yes/no/on/off), got "maybe"
MFN_AUTH_MODE=hmac => MFN_AUTH_MODE: expected one of off, key, signed, got "hmac"
MFN_AUTH_MODE=off & GRPC_AUTH_ENABLED=yes => MFN_AUTH_MODE, GRPC_AUTH_ENABLED: conflicting values "off" and true; set only one
MFN_AUTH_MODE=key & GRPC_AUTH_ENABLED=0 => MFN_AUTH_MODE, GRPC_AUTH_ENABLED: conflicting values "key" and false; set only one
MFN_CORS_ORIGINS=example.com => MFN_CORS_ORIGINS: invalid origin "example.com": expected "*" or scheme://host[:port]
MFN_CORS_ORIGINS=https://a.example/ => MFN_CORS_ORIGINS: invalid origin "https://a.example/": expected "*" or scheme://host[:port]
MFN_CORS_ORIGINS=ftp://a.example => MFN_CORS_ORIGINS: invalid origin "ftp://a.example": expected "*" or scheme://host[:port]
MFN_CORS_ORIGINS=https:// => MFN_CORS_ORIGINS: invalid origin "https://": expected "*" or scheme://host[:port]
MFN_MCP_ALLOWED_HOSTS=a/b => MFN_MCP_ALLOWED_HOSTS: invalid host "a/b": expected "*", host or host:port
OTEL_EXPORTER_OTLP_ENDPOINT=collector:4317 => OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:// or https:// URL with a host, got "collector:4317"
MFN_API_KEYS=a b => MFN_API_KEYS: a key must not contain whitespace
MFN_API_KEYS_FILE=/nonexistent/keys => MFN_API_KEYS_FILE: cannot access /nonexistent/keys: No such file or directory (os error 2)
file: grpc_prot = 1 => mfn.toml: grpc_prot: unknown key (did you mean grpc_port?)
file: api_key = "k" => mfn.toml: api_key: unknown key
MFN_GRPC_PORT=1 & file: api_keys = "x" => mfn.toml: api_keys: unknown key
file: grpc_port = "50051" => mfn.toml: grpc_port: expected an integer, got a string
file: tls_enabled = "yes" => mfn.toml: tls_enabled: expected a boolean, got a string
file: env = 3 => mfn.toml: env: expected a string, got an integer
file: cors_origins = [1] => mfn.toml: cors_origins: expected an array of strings, got an array
file: log_level = "" => mfn.toml: log_level: must not be empty
file: x = 1\ny = = 2 => mfn.toml: invalid toml at line 2, column 5: extra `=`, expected nothing
"#;

#[test]
fn bad_values_are_one_error_naming_the_key_as_written() {
    for line in BAD.lines().filter(|l| !l.is_empty()) {
        let (given, expected) = line.split_once(" => ").unwrap();
        let (env, toml) = given.split_once("file: ").unwrap_or((given, ""));
        let pairs = env.split(" & ").filter_map(|p| p.trim().split_once('='));
        let e = load_file(&pairs.collect::<Vec<_>>(), &toml.replace("\\n", "\n")).unwrap_err();
        assert_eq!(e.to_string(), format!("invalid configuration: {expected}"));
    }
    let e = flags(&[("MFN_GRPC_PORT", "--grpc-port", "70000")], &[])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "invalid configuration: --grpc-port: must be in [0, 65535], got 70000"
    );
    let e = error(flags(&[("MFN_HTTP_PORT", "--http-port", "50051")], &[]));
    assert_eq!(
        e,
        (
            "--http-port".into(),
            "must differ from MFN_GRPC_PORT (both 50051)".into()
        )
    );
    let config = [("MFN_CONFIG", "--config", "/nonexistent/mfn.toml")];
    let (key, message) = error(flags(&config, &[("MFN_CONFIG", "/also/missing.toml")]));
    assert!(
        key == "--config" && message.starts_with("cannot read /nonexistent/mfn.toml"),
        "{message}"
    );
}

#[test]
fn the_auth_switch_gives_way_to_the_mode() {
    for (text, mode) in [
        ("TRUE", "key"),
        ("1", "key"),
        ("yes", "key"),
        ("On", "key"),
        ("No", "off"),
        ("off", "off"),
    ] {
        let c = load(&[("MFN_ENV", "prod"), ("GRPC_AUTH_ENABLED", text)]).unwrap();
        assert_eq!(c.auth.mode.as_str(), mode, "{text}");
    }
    let c = load(&[("MFN_AUTH_MODE", "signed"), ("GRPC_AUTH_ENABLED", "true")]).unwrap();
    assert_eq!(c.auth.mode, AuthMode::Signed);
    // The environment switch beats the file's mode.
    let c = load_file(&[("GRPC_AUTH_ENABLED", "off")], "auth_mode = \"signed\"").unwrap();
    assert_eq!(c.auth.mode, AuthMode::Off);
    assert_eq!(
        load_file(&[], "auth_mode = \"KEY\"").unwrap().auth.mode,
        AuthMode::Key
    );
}

#[test]
fn mfn_config_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfn.toml");
    std::fs::write(&path, "max_grid_size = 64\nmax_steps = 0\n").unwrap();
    let path = path.to_str().unwrap();
    let e = error(ServerConfig::from_env(&vars(&[("MFN_CONFIG", path)])));
    assert_eq!(e.0, format!("{path}: max_steps"));
    let env = [("MFN_CONFIG", path), ("MFN_MAX_STEPS", "10")];
    let c = ServerConfig::from_env(&vars(&env)).unwrap();
    assert_eq!(
        (c.service.limits.max_grid_size, c.service.limits.max_steps),
        (64, 10)
    );
    let missing = dir.path().join("nope.toml");
    let env = vars(&[("MFN_CONFIG", missing.to_str().unwrap())]);
    let e = ServerConfig::from_env(&env).unwrap_err().to_string();
    assert!(
        e.starts_with("invalid configuration: MFN_CONFIG: cannot read") && e.contains("nope.toml")
    );
}

#[test]
fn tls_needs_both_existing_files_unless_off() {
    let (dir, cert, key) = pem_files();
    let (cert, key, ca) = (cert.as_str(), key.as_str(), cert.as_str());
    let missing = dir.path().join("missing.pem");
    let (missing, directory) = (missing.to_str().unwrap(), dir.path().to_str().unwrap());
    let expected = TlsSettings {
        cert_path: cert.into(),
        key_path: key.into(),
        client_ca_path: None,
    };
    // Both paths enable TLS, under either name or from the file.
    let both = [("MFN_TLS_CERT_PATH", cert), ("MFN_TLS_KEY_PATH", key)];
    let aliases = [("GRPC_TLS_CERT_PATH", cert), ("GRPC_TLS_KEY_PATH", key)];
    let toml = format!("tls_cert_path = {cert:?}\ntls_key_path = {key:?}\n");
    for c in [load(&both), load(&aliases), load_file(&[], &toml)] {
        assert_eq!(c.unwrap().tls.settings().as_ref(), Some(&expected));
    }
    // With the client CA: mutual TLS. Explicitly disabled wins over paths.
    let mutual = [
        both[0],
        both[1],
        ("MFN_TLS_CLIENT_CA_PATH", ca),
        ("MFN_TLS_ENABLED", "yes"),
    ];
    let mutual = load(&mutual).unwrap().tls.settings().unwrap();
    assert_eq!(mutual.client_ca_path, Some(ca.into()));
    let off = load(&[both[0], both[1], ("GRPC_TLS_ENABLED", "false")]).unwrap();
    assert_eq!(off.tls.settings(), None);
    let cases: &[(Pairs<'_>, &str, &str)] = &[
        (
            &[("GRPC_TLS_ENABLED", "true")],
            "GRPC_TLS_ENABLED",
            "tls is enabled but MFN_TLS_CERT_PATH",
        ),
        (
            &[("MFN_TLS_ENABLED", "1"), both[0]],
            "MFN_TLS_KEY_PATH",
            "must be set together with MFN_TLS_CERT_PATH",
        ),
        (
            &[("GRPC_TLS_KEY_PATH", key)],
            "MFN_TLS_CERT_PATH",
            "must be set together with GRPC_TLS_KEY_PATH",
        ),
        (
            &[("MFN_TLS_CLIENT_CA_PATH", ca)],
            "MFN_TLS_CLIENT_CA_PATH",
            "requires MFN_TLS_CERT_PATH",
        ),
        (
            &[("MFN_TLS_CERT_PATH", missing), both[1]],
            "MFN_TLS_CERT_PATH",
            "cannot access",
        ),
        (
            &[both[0], both[1], ("MFN_TLS_CLIENT_CA_PATH", directory)],
            "MFN_TLS_CLIENT_CA_PATH",
            directory,
        ),
    ];
    for (pairs, key, message) in cases {
        let (k, m) = error(load(pairs));
        assert!(k == *key && m.starts_with(message), "{pairs:?}: {k}: {m}");
    }
    let toml = format!("tls_cert_path = {cert:?}\ntls_key_path = {missing:?}\n");
    assert_eq!(error(load_file(&[], &toml)).0, "mfn.toml: tls_key_path");
}

#[test]
fn http_tls_follows_tls_unless_turned_off_and_needs_tls() {
    let (_dir, cert, key) = pem_files();
    let both = [
        ("MFN_TLS_CERT_PATH", cert.as_str()),
        ("MFN_TLS_KEY_PATH", key.as_str()),
    ];
    let on = load(&both).unwrap();
    assert!(on.tls.http && on.tls.on_http());
    for value in ["false", "0", "off"] {
        let c = load(&[both[0], both[1], ("MFN_HTTP_TLS", value)]).unwrap();
        // gRPC keeps TLS; only the HTTP port is plain.
        assert!(c.tls.settings().is_some() && !c.tls.on_http(), "{value}");
    }
    let file = load_file(&both, "http_tls = false\n").unwrap();
    assert!(file.tls.settings().is_some() && !file.tls.on_http());
    // Without TLS it changes nothing.
    let plain = load(&[("MFN_HTTP_TLS", "true")]).unwrap();
    assert!(plain.tls.http && !plain.tls.on_http());
    assert_eq!(plain.tls.settings(), None);
    let off = load(&[both[0], both[1], ("MFN_TLS_ENABLED", "false")]).unwrap();
    assert!(!off.tls.on_http());
    let (k, m) = error(load(&[("MFN_HTTP_TLS", "maybe")]));
    assert!(k == "MFN_HTTP_TLS" && m.contains("boolean"), "{k}: {m}");
}

#[test]
fn unknown_env_vars_reports_only_unread_mfn_names() {
    let names = [
        "MFN_GRPC_PROT",
        "MFN_GRPC_PORT",
        "GRPC_PORT",
        "GRPC_SOMETHING",
        "MFN_API_KEYS",
    ];
    let more = [
        "MFN_CONFIG",
        "MFN_CACHE_DIR",
        "OTEL_SERVICE_NAME",
        "MFN_LOGLEVEL",
        "PATH",
    ];
    let env = names.iter().chain(&more).map(|n| ((*n).into(), "1".into()));
    assert_eq!(
        unknown_env_vars(&env.collect()),
        ["MFN_GRPC_PROT", "MFN_LOGLEVEL"]
    );
    let known = SETTINGS.iter().flat_map(Setting::env_names);
    assert!(unknown_env_vars(&known.map(|n| (n.into(), String::new())).collect()).is_empty());
}

#[test]
fn keys_are_hashed_once_and_never_kept() {
    let c = load(&[
        ("MFN_API_KEY", "alpha"),
        ("MFN_API_KEYS", "beta, gamma,,alpha,"),
    ])
    .unwrap();
    let hash = crate::security::keys::hash_key;
    assert_eq!(
        c.auth.api_key_hashes,
        [hash("alpha"), hash("beta"), hash("gamma")]
    );
    assert!(!format!("{c:?}").contains("alpha"));
    assert_eq!(
        error(load(&[("MFN_API_KEYS_FILE", "/nonexistent/keys")])).0,
        "MFN_API_KEYS_FILE"
    );
    let (_dir, file, _) = pem_files();
    let c = load_file(&[], &format!("api_keys_file = {file:?}")).unwrap();
    assert_eq!(c.auth.api_keys_file, Some(file.into()));
}

#[test]
fn every_setting_parses_a_valid_value_into_a_field() {
    let (_dir, a, b) = pem_files();
    // TLS on in every case, so that each TLS setting is valid on its own.
    let base = [
        ("MFN_TLS_CERT_PATH", a.as_str()),
        ("MFN_TLS_KEY_PATH", a.as_str()),
    ];
    let before = load(&base).unwrap();
    for s in SETTINGS {
        let samples: Vec<String> = match s.ty {
            // Both edges: a range wider than the field's type panics in the setter.
            Type::Int(min, max, _) => vec![min.to_string(), max.to_string()],
            Type::Bool => vec!["true".into(), "false".into()],
            Type::Choice(names, _) => names.iter().map(|n| n.to_string()).collect(),
            Type::Ip => vec!["::1".into()],
            Type::Text => vec!["x".into()],
            Type::Url => vec!["http://collector:4317".into()],
            Type::GraphStore => vec!["redis://graphs:6379/1".into()],
            Type::Path | Type::File => vec![b.clone()],
            Type::Origins => vec!["https://a.example".into()],
            Type::Hosts => vec!["a.example:8080".into()],
            Type::Keys => vec!["k1,k2".into()],
        };
        let mut changed = false;
        for sample in &samples {
            let mut pairs: Vec<_> = base.iter().filter(|(k, _)| *k != s.var).copied().collect();
            pairs.push((s.var, sample));
            let c = load(&pairs).unwrap_or_else(|e| panic!("{}={sample}: {e}", s.var));
            changed |= c != before;
        }
        assert!(changed, "{} fills no field ({samples:?})", s.var);
    }
}

#[test]
fn the_graph_store_is_embedded_or_a_redis_url_and_the_message_hides_passwords() {
    assert_eq!(load(&[]).unwrap().service.graphs.shared, None);
    assert_eq!(
        load(&[("MFN_GRAPH_STORE", "embedded")])
            .unwrap()
            .service
            .graphs
            .shared,
        None
    );
    for url in [
        "redis://127.0.0.1:6379/0",
        "redis://:pw@redis.internal",
        "redis+unix:///run/redis.sock",
    ] {
        let config = load(&[("MFN_GRAPH_STORE", url)]).unwrap();
        assert_eq!(config.service.graphs.shared.as_deref(), Some(url));
        assert!(
            !config.graph_store().contains("pw@"),
            "{}",
            config.graph_store()
        );
    }
    for bad in [
        "postgres://db/x",
        "redis://",
        "redis:///tmp/x",
        "rediss://u:pw@db:6380",
    ] {
        let (key, message) = error(load(&[("MFN_GRAPH_STORE", bad)]));
        assert_eq!(key, "MFN_GRAPH_STORE", "{bad}");
        assert!(message.contains("redis"), "{message}");
        assert!(!message.contains("pw"), "{message}");
    }
}
