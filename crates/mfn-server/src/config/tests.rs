use super::settings::Type;
use super::*;

type Pairs<'a> = &'a [(&'a str, &'a str)];

fn vars(pairs: Pairs<'_>) -> HashMap<String, String> {
    let pair = |&(k, v): &(&str, &str)| (k.to_owned(), v.to_owned());
    pairs.iter().map(pair).collect()
}

fn load(pairs: Pairs<'_>) -> Result<ServerConfig, ConfigError> {
    ServerConfig::from_sources(&vars(pairs), None)
}

/// The configuration of `given`: `VAR=value` and `--flag=value` joined by ` & `, then
/// optionally `file: toml` (`\n` for newlines). Without a file, `MFN_CONFIG` is read.
fn config(given: &str) -> Result<ServerConfig, ConfigError> {
    let (given, toml) = given.split_once("file: ").unwrap_or((given, ""));
    let pairs = given.split(" & ").filter_map(|p| p.split_once('='));
    let (flags, env): (Vec<_>, Vec<_>) = pairs.partition(|(k, _)| k.starts_with("--"));
    if !toml.is_empty() {
        let toml = toml.replace("\\n", "\n");
        return ServerConfig::from_sources(&vars(&env), Some(("mfn.toml", &toml)));
    }
    let flag = |&(name, value): &(&str, &str)| {
        let named = |s: &&Setting| s.flag.is_some_and(|(long, _)| &name[2..] == long);
        let s = SETTINGS.iter().find(named).expect("a flag of the table");
        let (var, name, value) = (s.var, name.into(), value.into());
        Flag { var, name, value }
    };
    ServerConfig::from_flags(&flags.iter().map(flag).collect::<Vec<_>>(), &vars(&env))
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
    assert_eq!(WsConfig::default(), c.ws);
    assert_eq!(NetworkConfig::default(), c.network);
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
    let (n, s) = (&c.network, &c.service);
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!((s.workers, s.cache_bytes), (cores.min(1024), 64 * MIB));
    assert_eq!(n.max_message_bytes, 10 * MIB);
    assert_eq!(c.ws.max_message_bytes, 64 * 1024);
    assert_eq!(n.keepalive_time, Duration::from_secs(30));
    assert_eq!(c.auth.mode, AuthMode::Off);
    assert_eq!(c.telemetry.log_format, LogFormat::Plain);
    assert_eq!(c.tls.settings(), None);
    assert_eq!(c.telemetry.otlp_endpoint, None);
    let memory = config("MFN_DATA_DIR=:memory:").unwrap();
    assert_eq!(memory.service.graphs.data_dir, None);
}

#[test]
fn the_environment_selects_defaults_and_explicit_values_win() {
    for name in ["staging", "prod", "PROD", "production"] {
        let c = config(&format!("MFN_ENV={name}")).unwrap();
        assert_ne!(c.env, Environment::Dev, "{name}");
        assert_eq!(c.grpc_addr().to_string(), "0.0.0.0:50051", "{name}");
        assert!(c.network.cors_allowed_origins.is_empty(), "{name}");
        assert_eq!(c.telemetry.log_format, LogFormat::Json, "{name}");
        assert_eq!(c.auth.mode, AuthMode::Signed, "{name}");
        assert_eq!(c.mcp.allowed_hosts, ["*"], "{name}");
    }
    // The environment may come from the file and still select the defaults.
    let c = config("file: env = \"prod\"").unwrap();
    assert_eq!((c.env, c.auth.mode), (Environment::Prod, AuthMode::Signed));
    let c = config(
        "MFN_ENV=prod & MFN_HOST=::1 & MFN_LOG_FORMAT=Plain & MFN_AUTH_MODE=key & \
         MFN_CORS_ORIGINS=https://a.example, http://b.example:8080,",
    )
    .unwrap();
    assert_eq!(c.grpc_addr().to_string(), "[::1]:50051");
    let origins = &c.network.cors_allowed_origins;
    assert_eq!(origins, &["https://a.example", "http://b.example:8080"]);
    assert_eq!(c.telemetry.log_format, LogFormat::Plain);
    assert_eq!(c.auth.mode, AuthMode::Key);
}

#[test]
fn both_names_may_say_the_same_and_empty_is_unset() {
    // The same meaning under both names is fine, even spelled differently.
    for first in ["7001", " "] {
        let given = format!("MFN_GRPC_PORT={first} & GRPC_PORT=7001");
        assert_eq!(config(&given).unwrap().network.grpc_port, 7001, "{given}");
    }
    let tls = config("MFN_TLS_ENABLED=off & GRPC_TLS_ENABLED=FALSE").unwrap();
    assert_eq!(tls.tls.settings(), None);
    let empty = config("MFN_GRPC_PORT= & GRPC_PORT=  & MFN_ENV=").unwrap();
    assert_eq!(empty, ServerConfig::default());
}

#[test]
fn flag_beats_environment_beats_file_beats_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfn.toml");
    let file = "grpc_port = 6000\nmax_steps = 500\nws_queue_mb = 2\nkeepalive_time_ms = 5000\n\
                cors_origins = [\"https://a.example\", \"https://b.example\"]\n";
    std::fs::write(&path, file).unwrap();
    let path = path.to_str().unwrap();
    let given = format!("--config={path} & MFN_MAX_STEPS= & MFN_WS_MAX_MESSAGE_KB=8");
    let c = config(&given).unwrap();
    let (n, ws, limits) = (&c.network, &c.ws, &c.service.limits);
    assert_eq!((n.grpc_port, n.http_port), (6000, 8080));
    assert_eq!((limits.max_steps, ws.queue_bytes), (500, 2 * MIB));
    assert_eq!(ws.max_message_bytes, 8 * 1024);
    assert_eq!(n.keepalive_time, Duration::from_secs(5));
    let origins = &n.cors_allowed_origins;
    assert_eq!(origins, &["https://a.example", "https://b.example"]);
    assert_eq!(c.config_file.as_deref(), Some(std::path::Path::new(path)));
    let env = format!("GRPC_PORT=7002 & MFN_CONFIG={path}");
    assert_eq!(config(&env).unwrap().network.grpc_port, 7002);
    let both = format!("--config={path} & --grpc-port=7001 & {env}");
    assert_eq!(config(&both).unwrap().network.grpc_port, 7001);
    // The flag replaces the variable and its alias: no conflict between them. An empty
    // flag is no flag.
    let given = "MFN_GRPC_PORT=7001 & GRPC_PORT=7002 & MFN_ENV=prod & --grpc-port=6001 & \
                 --env=staging";
    let c = config(given).unwrap();
    assert_eq!((c.network.grpc_port, c.env), (6001, Environment::Staging));
    let c = config("--host= ").unwrap();
    assert_eq!(c.network.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
    // A file string is no integer; a comma list is a list.
    let c = config("file: cors_origins = \"https://a.example,*\"").unwrap();
    assert_eq!(c.network.cors_allowed_origins, ["https://a.example", "*"]);
    let c = config("file: cors_origins = []").unwrap();
    assert!(c.network.cors_allowed_origins.is_empty());
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
                true => config(&format!("file: {name} = {n}")),
                false => load(&[(&name, &n.to_string())]),
            };
            for n in [min, max] {
                set(n).unwrap_or_else(|e| panic!("{name} = {n}: {e}"));
            }
            let key = format!("{}{name}", if in_file { "mfn.toml: " } else { "" });
            for n in [min - 1, max + 1] {
                let message = format!("must be in [{min}, {max}], got {n}");
                assert_eq!(error(set(n)), (key.clone(), message));
            }
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} integer settings");
}

/// What [`config`] takes, `=>`, the error as shown; `$DIR` holds the files `a.pem` and
/// `b.pem`.
const BAD: &str = r#"
MFN_ENV=production-eu => MFN_ENV: expected one of dev, staging, prod, got "production-eu"
MFN_HOST=localhost => MFN_HOST: expected an IP address, got "localhost"
MFN_MAX_STEPS=ten => MFN_MAX_STEPS: expected an integer, got "ten"
MFN_MAX_WORKERS=0 => MFN_MAX_WORKERS: must be in [1, 1024], got 0
--grpc-port=70000 => --grpc-port: must be in [0, 65535], got 70000
MFN_GRPC_PORT=7001 & GRPC_PORT=7002 => MFN_GRPC_PORT, GRPC_PORT: conflicting values "7001" and "7002"; set only one
MFN_TLS_ENABLED=false & GRPC_TLS_ENABLED=1 => MFN_TLS_ENABLED, GRPC_TLS_ENABLED: conflicting values "false" and "1"; set only one
GRPC_PORT=9000 & MFN_HTTP_PORT=9000 => MFN_HTTP_PORT: must differ from GRPC_PORT (both 9000)
MFN_GRPC_PORT=8080 => MFN_HTTP_PORT: must differ from MFN_GRPC_PORT (both 8080)
--http-port=50051 => --http-port: must differ from MFN_GRPC_PORT (both 50051)
GRPC_AUTH_ENABLED=maybe => GRPC_AUTH_ENABLED: expected a boolean (true/false/1/0/yes/no/on/off), got "maybe"
MFN_HTTP_TLS=maybe => MFN_HTTP_TLS: expected a boolean (true/false/1/0/yes/no/on/off), got "maybe"
MFN_AUTH_MODE=hmac => MFN_AUTH_MODE: expected one of off, key, signed, got "hmac"
MFN_AUTH_MODE=off & GRPC_AUTH_ENABLED=yes => MFN_AUTH_MODE, GRPC_AUTH_ENABLED: conflicting values "off" and true; set only one
MFN_AUTH_MODE=key & GRPC_AUTH_ENABLED=0 => MFN_AUTH_MODE, GRPC_AUTH_ENABLED: conflicting values "key" and false; set only one
MFN_CORS_ORIGINS=example.com => MFN_CORS_ORIGINS: invalid origin "example.com": expected "*" or scheme://host[:port]
MFN_CORS_ORIGINS=https://a.example/ => MFN_CORS_ORIGINS: invalid origin "https://a.example/": expected "*" or scheme://host[:port]
MFN_CORS_ORIGINS=ftp://a.example => MFN_CORS_ORIGINS: invalid origin "ftp://a.example": expected "*" or scheme://host[:port]
MFN_CORS_ORIGINS=https:// => MFN_CORS_ORIGINS: invalid origin "https://": expected "*" or scheme://host[:port]
MFN_MCP_ALLOWED_HOSTS=a/b => MFN_MCP_ALLOWED_HOSTS: invalid host "a/b": expected "*", host or host:port
OTEL_EXPORTER_OTLP_ENDPOINT=collector:4317 => OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:// or https:// URL with a host, got "collector:4317"
MFN_GRAPH_STORE=postgres://db/x => MFN_GRAPH_STORE: expected `embedded` or redis://[user:password@]host[:port][/db], got "postgres://db/x"
MFN_GRAPH_STORE=redis:// => MFN_GRAPH_STORE: expected `embedded` or redis://[user:password@]host[:port][/db], got "redis://"
MFN_GRAPH_STORE=redis://u:pw@ => MFN_GRAPH_STORE: expected `embedded` or redis://[user:password@]host[:port][/db], got "redis://"
MFN_GRAPH_STORE=redis:///tmp/x => MFN_GRAPH_STORE: expected `embedded` or redis://[user:password@]host[:port][/db], got "redis:///tmp/x"
MFN_GRAPH_STORE=rediss://u:pw@db:6380 => MFN_GRAPH_STORE: TLS to Redis (rediss://) is not supported: use redis:// on a private network or a TLS sidecar
MFN_API_KEYS=a b => MFN_API_KEYS: a key must not contain whitespace
MFN_API_KEYS_FILE=/nonexistent/keys => MFN_API_KEYS_FILE: cannot access /nonexistent/keys: No such file or directory (os error 2)
GRPC_TLS_ENABLED=true => GRPC_TLS_ENABLED: tls is enabled but MFN_TLS_CERT_PATH and MFN_TLS_KEY_PATH are not set
MFN_TLS_ENABLED=1 & MFN_TLS_CERT_PATH=$DIR/a.pem => MFN_TLS_KEY_PATH: must be set together with MFN_TLS_CERT_PATH
GRPC_TLS_KEY_PATH=$DIR/b.pem => MFN_TLS_CERT_PATH: must be set together with GRPC_TLS_KEY_PATH
MFN_TLS_CLIENT_CA_PATH=$DIR/a.pem => MFN_TLS_CLIENT_CA_PATH: requires MFN_TLS_CERT_PATH and MFN_TLS_KEY_PATH
MFN_TLS_CERT_PATH=$DIR/no.pem & MFN_TLS_KEY_PATH=$DIR/b.pem => MFN_TLS_CERT_PATH: cannot access $DIR/no.pem: No such file or directory (os error 2)
MFN_TLS_CERT_PATH=$DIR/a.pem & MFN_TLS_KEY_PATH=$DIR/b.pem & MFN_TLS_CLIENT_CA_PATH=$DIR => MFN_TLS_CLIENT_CA_PATH: $DIR is not a file
file: tls_cert_path = "$DIR/a.pem"\ntls_key_path = "$DIR/no.pem" => mfn.toml: tls_key_path: cannot access $DIR/no.pem: No such file or directory (os error 2)
MFN_CONFIG=$DIR/no.toml => MFN_CONFIG: cannot read $DIR/no.toml: No such file or directory (os error 2)
--config=$DIR/no.toml & MFN_CONFIG=/also/missing.toml => --config: cannot read $DIR/no.toml: No such file or directory (os error 2)
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
    let (tmp, ..) = pem_files();
    let dir = tmp.path().to_str().unwrap();
    for line in BAD.lines().filter(|l| !l.is_empty()) {
        let line = line.replace("$DIR", dir);
        let (given, expected) = line.split_once(" => ").unwrap();
        let e = config(given).expect_err(given).to_string();
        assert_eq!(e, format!("invalid configuration: {expected}"));
    }
}

#[test]
fn the_auth_switch_gives_way_to_the_mode() {
    for (texts, mode) in [("TRUE 1 yes On", AuthMode::Key), ("No off", AuthMode::Off)] {
        for text in texts.split(' ') {
            let c = config(&format!("MFN_ENV=prod & GRPC_AUTH_ENABLED={text}")).unwrap();
            assert_eq!(c.auth.mode, mode, "{text}");
        }
    }
    let c = config("MFN_AUTH_MODE=signed & GRPC_AUTH_ENABLED=true").unwrap();
    assert_eq!(c.auth.mode, AuthMode::Signed);
    // The environment switch beats the file's mode.
    let c = config("GRPC_AUTH_ENABLED=off & file: auth_mode = \"signed\"").unwrap();
    assert_eq!(c.auth.mode, AuthMode::Off);
    let c = config("file: auth_mode = \"KEY\"").unwrap();
    assert_eq!(c.auth.mode, AuthMode::Key);
}

#[test]
fn mfn_config_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfn.toml");
    std::fs::write(&path, "max_grid_size = 64\nmax_steps = 0\n").unwrap();
    let path = path.to_str().unwrap();
    let e = error(config(&format!("MFN_CONFIG={path}")));
    assert_eq!(e.0, format!("{path}: max_steps"));
    let c = config(&format!("MFN_CONFIG={path} & MFN_MAX_STEPS=10")).unwrap();
    let limits = &c.service.limits;
    assert_eq!((limits.max_grid_size, limits.max_steps), (64, 10));
}

#[test]
fn tls_needs_both_existing_files_unless_off() {
    let (_dir, cert, key) = pem_files();
    let expected = TlsSettings {
        cert_path: cert.clone().into(),
        key_path: key.clone().into(),
        client_ca_path: None,
    };
    // Both paths enable TLS, under either name or from the file.
    let both = format!("MFN_TLS_CERT_PATH={cert} & MFN_TLS_KEY_PATH={key}");
    let aliases = format!("GRPC_TLS_CERT_PATH={cert} & GRPC_TLS_KEY_PATH={key}");
    let file = format!("file: tls_cert_path = {cert:?}\\ntls_key_path = {key:?}");
    for given in [&both, &aliases, &file] {
        let settings = config(given).unwrap().tls.settings();
        assert_eq!(settings.as_ref(), Some(&expected), "{given}");
    }
    // With the client CA: mutual TLS. Explicitly disabled wins over paths.
    let mutual = format!("{both} & MFN_TLS_CLIENT_CA_PATH={cert} & MFN_TLS_ENABLED=yes");
    let mutual = config(&mutual).unwrap().tls.settings().unwrap();
    assert_eq!(mutual.client_ca_path, Some(cert.into()));
    let off = config(&format!("{both} & GRPC_TLS_ENABLED=false")).unwrap();
    assert_eq!(off.tls.settings(), None);
    // The HTTP port follows unless turned off; gRPC keeps TLS then.
    let on = config(&both).unwrap();
    assert!(on.tls.http && on.tls.on_http());
    for value in ["false", "0", "off"] {
        let c = config(&format!("{both} & MFN_HTTP_TLS={value}")).unwrap();
        assert!(c.tls.settings().is_some() && !c.tls.on_http(), "{value}");
    }
    let c = config(&format!("{both} & file: http_tls = false")).unwrap();
    assert!(c.tls.settings().is_some() && !c.tls.on_http());
    // Without TLS it changes nothing.
    let plain = config("MFN_HTTP_TLS=true").unwrap();
    assert!(plain.tls.http && !plain.tls.on_http());
    assert_eq!(plain.tls.settings(), None);
    let off = config(&format!("{both} & MFN_TLS_ENABLED=false")).unwrap();
    assert!(!off.tls.on_http());
}

#[test]
fn unknown_env_vars_reports_only_unread_mfn_names() {
    let names = "MFN_GRPC_PROT MFN_GRPC_PORT GRPC_PORT GRPC_SOMETHING MFN_API_KEYS MFN_CONFIG \
                 MFN_CACHE_DIR OTEL_SERVICE_NAME MFN_LOGLEVEL PATH";
    let env = names.split(' ').map(|n| (n.to_owned(), "1".to_owned()));
    let unknown = unknown_env_vars(&env.collect());
    assert_eq!(unknown, ["MFN_GRPC_PROT", "MFN_LOGLEVEL"]);
    let known = SETTINGS.iter().flat_map(Setting::env_names);
    assert!(unknown_env_vars(&known.map(|n| (n.into(), String::new())).collect()).is_empty());
}

#[test]
fn keys_are_hashed_once_and_never_kept() {
    let c = config("MFN_API_KEY=alpha & MFN_API_KEYS=beta, gamma,,alpha,").unwrap();
    let hash = crate::security::keys::hash_key;
    let expected = [hash("alpha"), hash("beta"), hash("gamma")];
    assert_eq!(c.auth.api_key_hashes, expected);
    assert!(!format!("{c:?}").contains("alpha"));
    let (_dir, file, _) = pem_files();
    let c = config(&format!("file: api_keys_file = {file:?}")).unwrap();
    assert_eq!(c.auth.api_keys_file, Some(file.into()));
}

#[test]
fn every_setting_and_alias_parses_a_valid_value_into_the_same_field() {
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
            let set = |name: &str| {
                let other = |(k, _): &&(&str, &str)| !s.env_names().any(|n| n == *k);
                let mut pairs: Vec<_> = base.iter().filter(other).copied().collect();
                pairs.push((name, sample));
                load(&pairs).unwrap_or_else(|e| panic!("{name}={sample}: {e}"))
            };
            let c = set(s.var);
            changed |= c != before;
            // An alias sets the field of its variable.
            for alias in s.aliases {
                assert_eq!(set(alias), c, "{alias}={sample}");
            }
        }
        assert!(changed, "{} fills no field ({samples:?})", s.var);
    }
}

#[test]
fn the_graph_store_is_embedded_or_a_redis_url_and_the_message_hides_passwords() {
    assert_eq!(load(&[]).unwrap().service.graphs.shared, None);
    let embedded = config("MFN_GRAPH_STORE=embedded").unwrap();
    assert_eq!(embedded.service.graphs.shared, None);
    let urls = "redis://127.0.0.1:6379/0 redis://:pw@redis.internal redis+unix:///run/redis.sock";
    for url in urls.split(' ') {
        let c = config(&format!("MFN_GRAPH_STORE={url}")).unwrap();
        assert_eq!(c.service.graphs.shared.as_deref(), Some(url));
        assert!(!c.graph_store().contains("pw@"), "{}", c.graph_store());
    }
}
