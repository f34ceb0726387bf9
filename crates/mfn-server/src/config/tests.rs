use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(pairs: &[(&str, &str)]) -> Result<ServerConfig, ConfigError> {
    ServerConfig::from_sources(&vars(pairs), None)
}

fn load_file(pairs: &[(&str, &str)], toml: &str) -> Result<ServerConfig, ConfigError> {
    ServerConfig::from_sources(&vars(pairs), Some(("mfn.toml", toml)))
}

fn error(result: Result<ServerConfig, ConfigError>) -> ConfigError {
    match result {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e,
    }
}

/// What the environment-built configuration defaults to: `ServerConfig::default()`,
/// graphs in `mfn-data` included.
fn env_defaults() -> ServerConfig {
    ServerConfig::default()
}

const MIB: usize = 1024 * 1024;

#[test]
fn defaults_are_the_documented_dev_defaults() {
    let config = load(&[]).unwrap();
    assert_eq!(config, env_defaults());
    assert_eq!(
        config.service.graphs.data_dir,
        Some(PathBuf::from("mfn-data"))
    );
    let memory = load(&[("MFN_DATA_DIR", ":memory:")]).unwrap();
    assert_eq!(memory.service.graphs.data_dir, None);
    assert_eq!(config.env, Environment::Dev);
    assert_eq!(config.network.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(config.network.grpc_port, 50051);
    assert_eq!(config.network.http_port, 8080);
    assert_eq!(config.network.max_message_bytes, 10 * 1024 * 1024);
    assert_eq!(config.network.max_concurrent_streams, 1000);
    assert_eq!(config.network.keepalive_time, Duration::from_secs(30));
    assert_eq!(config.network.keepalive_timeout, Duration::from_secs(10));
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(config.service.workers, cores.min(1024));
    assert_eq!(config.service.queue, 64);
    assert_eq!(config.service.cache_entries, 1024);
    assert_eq!(config.service.cache_bytes, 64 * 1024 * 1024);
    assert_eq!(config.service.limits.max_grid_size, 512);
    assert_eq!(config.service.limits.max_steps, 10_000);
    assert_eq!(config.network.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(config.tls.settings(), None);
    assert_eq!(config.tls.reload_interval, Duration::from_secs(5));
    assert_eq!(config.network.cors_allowed_origins, vec!["*".to_owned()]);
    assert_eq!(config.telemetry.log_format, LogFormat::Plain);
    assert_eq!(config.telemetry.log_level, "info");
    assert_eq!(config.auth.mode, AuthMode::Off);
    assert_eq!(config.rate_limits.rps, 1000);
    assert_eq!(config.rate_limits.concurrent, 50);
    assert_eq!(config.grpc_addr(), "127.0.0.1:50051".parse().unwrap());
    assert_eq!(config.http_addr(), "127.0.0.1:8080".parse().unwrap());
}

#[test]
fn staging_and_prod_change_the_environment_dependent_defaults() {
    for (name, env) in [
        ("staging", Environment::Staging),
        ("prod", Environment::Prod),
        ("PROD", Environment::Prod),
        ("production", Environment::Prod),
    ] {
        let config = load(&[("MFN_ENV", name)]).unwrap();
        assert_eq!(config.env, env, "{name}");
        assert_eq!(
            config.network.host,
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            "{name}"
        );
        assert!(config.network.cors_allowed_origins.is_empty(), "{name}");
        assert_eq!(config.telemetry.log_format, LogFormat::Json, "{name}");
        assert_eq!(config.auth.mode, AuthMode::Signed, "{name}");
        assert_eq!(config.network.grpc_port, 50051, "{name}");
    }
    // The environment may come from the file and still select the defaults.
    let config = load_file(&[], "env = \"prod\"").unwrap();
    assert_eq!(config.auth.mode, AuthMode::Signed);
    let e = error(load(&[("MFN_ENV", "production-eu")]));
    assert_eq!(e.key, "MFN_ENV");
    assert!(e.message.contains("expected one of dev"), "{e}");
}

#[test]
fn explicit_values_override_environment_dependent_defaults() {
    let config = load(&[
        ("MFN_ENV", "prod"),
        ("MFN_HOST", "::1"),
        (
            "MFN_CORS_ORIGINS",
            "https://a.example, http://b.example:8080,",
        ),
        ("MFN_LOG_FORMAT", "Plain"),
        ("MFN_AUTH_MODE", "key"),
        ("MFN_LOG_LEVEL", "mfn=debug,tower=warn"),
    ])
    .unwrap();
    assert_eq!(config.network.host, "::1".parse::<IpAddr>().unwrap());
    assert_eq!(config.grpc_addr().to_string(), "[::1]:50051");
    assert_eq!(
        config.network.cors_allowed_origins,
        vec!["https://a.example", "http://b.example:8080"]
    );
    assert_eq!(config.telemetry.log_format, LogFormat::Plain);
    assert_eq!(config.auth.mode, AuthMode::Key);
    assert_eq!(config.telemetry.log_level, "mfn=debug,tower=warn");
    let e = error(load(&[("MFN_HOST", "localhost")]));
    assert_eq!(e.key, "MFN_HOST");
}

#[test]
fn every_alias_sets_its_field() {
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
            c.network.keepalive_time == Duration::from_secs(2)
        }),
        ("GRPC_KEEPALIVE_TIMEOUT_MS", "3000", |c| {
            c.network.keepalive_timeout == Duration::from_secs(3)
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
        let config = load(&[(alias, value)]).unwrap();
        assert!(check(&config), "{alias}={value}");
        // The primary name sets the same field.
        if let Some(s) = SETTINGS.iter().find(|s| s.aliases.contains(&alias)) {
            let config = load(&[(s.var, value)]).unwrap();
            assert!(check(&config), "{}={value}", s.var);
        }
    }
}

#[test]
fn alias_and_primary_with_different_values_conflict() {
    let e = error(load(&[("MFN_GRPC_PORT", "7001"), ("GRPC_PORT", "7002")]));
    assert_eq!(e.key, "MFN_GRPC_PORT, GRPC_PORT");
    assert!(e.message.contains("conflicting values"), "{e}");
    assert!(e.to_string().contains("7001") && e.to_string().contains("7002"));

    // The same meaning under both names is fine, even spelled differently.
    let config = load(&[("MFN_GRPC_PORT", "7001"), ("GRPC_PORT", "7001")]).unwrap();
    assert_eq!(config.network.grpc_port, 7001);
    let config = load(&[("MFN_TLS_ENABLED", "off"), ("GRPC_TLS_ENABLED", "FALSE")]).unwrap();
    assert_eq!(config.tls.settings(), None);
    let e = error(load(&[
        ("MFN_TLS_ENABLED", "false"),
        ("GRPC_TLS_ENABLED", "true"),
    ]));
    assert_eq!(e.key, "MFN_TLS_ENABLED, GRPC_TLS_ENABLED");
}

#[test]
fn empty_values_count_as_unset() {
    let config = load(&[("MFN_GRPC_PORT", ""), ("GRPC_PORT", "  "), ("MFN_ENV", "")]).unwrap();
    assert_eq!(config, env_defaults());
    let config = load(&[("MFN_GRPC_PORT", ""), ("GRPC_PORT", "7001")]).unwrap();
    assert_eq!(config.network.grpc_port, 7001);
}

#[test]
fn environment_beats_file_and_file_beats_default() {
    let file = r#"
        grpc_port = 6000
        max_steps = 500
        cors_origins = ["https://a.example", "https://b.example"]
        log_level = "debug"
        keepalive_time_ms = 5000
    "#;
    let config = load_file(&[("GRPC_PORT", "7000"), ("MFN_MAX_STEPS", "")], file).unwrap();
    assert_eq!(config.network.grpc_port, 7000);
    assert_eq!(config.service.limits.max_steps, 500);
    assert_eq!(
        config.network.cors_allowed_origins,
        vec!["https://a.example", "https://b.example"]
    );
    assert_eq!(config.telemetry.log_level, "debug");
    assert_eq!(config.network.keepalive_time, Duration::from_secs(5));
    assert_eq!(config.network.http_port, 8080);

    let config = load_file(&[], "cors_origins = \"https://a.example,*\"").unwrap();
    assert_eq!(
        config.network.cors_allowed_origins,
        vec!["https://a.example", "*"]
    );
    let config = load_file(&[], "cors_origins = []").unwrap();
    assert!(config.network.cors_allowed_origins.is_empty());
}

#[test]
fn every_range_is_checked_at_both_edges() {
    // (variable, file key, min, max)
    let ranges: &[(&str, &str, i64, i64)] = &[
        ("MFN_GRPC_PORT", "grpc_port", 0, 65_535),
        ("MFN_HTTP_PORT", "http_port", 0, 65_535),
        ("MFN_MAX_MESSAGE_SIZE", "max_message_size", 1, 1024),
        (
            "MFN_MAX_CONCURRENT_STREAMS",
            "max_concurrent_streams",
            1,
            100_000,
        ),
        (
            "MFN_KEEPALIVE_TIME_MS",
            "keepalive_time_ms",
            1000,
            86_400_000,
        ),
        (
            "MFN_KEEPALIVE_TIMEOUT_MS",
            "keepalive_timeout_ms",
            1000,
            3_600_000,
        ),
        ("MFN_MAX_WORKERS", "max_workers", 1, 1024),
        ("MFN_COMPUTE_QUEUE", "compute_queue", 0, 100_000),
        ("MFN_CACHE_ENTRIES", "cache_entries", 0, 10_000_000),
        ("MFN_CACHE_MB", "cache_mb", 0, 65_536),
        ("MFN_MAX_GRID_SIZE", "max_grid_size", 4, 1024),
        ("MFN_MAX_STEPS", "max_steps", 1, 10_000),
        ("MFN_SHUTDOWN_TIMEOUT_S", "shutdown_timeout_s", 0, 3600),
        (
            "MFN_TLS_RELOAD_INTERVAL_S",
            "tls_reload_interval_s",
            1,
            3600,
        ),
        ("MFN_RATE_LIMIT_RPS", "rate_limit_rps", 1, 10_000_000),
        (
            "MFN_ANON_RATE_LIMIT_RPS",
            "anon_rate_limit_rps",
            1,
            10_000_000,
        ),
        ("MFN_AUTH_WINDOW_S", "auth_window_s", 1, 3600),
        (
            "MFN_RATE_LIMIT_CONCURRENT",
            "rate_limit_concurrent",
            1,
            1_000_000,
        ),
    ];
    for &(var, file_key, min, max) in ranges {
        let names = std::iter::once(var).chain(Setting::named(var).aliases.iter().copied());
        for name in names {
            for ok in [min, max] {
                load(&[(name, ok.to_string().as_str())])
                    .unwrap_or_else(|e| panic!("{name}={ok} rejected: {e}"));
            }
            for bad in [min - 1, max + 1] {
                let e = error(load(&[(name, bad.to_string().as_str())]));
                assert_eq!(e.key, name);
                assert_eq!(e.message, format!("must be in [{min}, {max}], got {bad}"));
            }
        }
        for ok in [min, max] {
            load_file(&[], &format!("{file_key} = {ok}"))
                .unwrap_or_else(|e| panic!("{file_key} = {ok} rejected: {e}"));
        }
        for bad in [min - 1, max + 1] {
            let e = error(load_file(&[], &format!("{file_key} = {bad}")));
            assert_eq!(e.key, format!("mfn.toml: {file_key}"));
            assert_eq!(e.message, format!("must be in [{min}, {max}], got {bad}"));
        }
    }
    let e = error(load(&[("MFN_MAX_STEPS", "ten")]));
    assert_eq!(e.message, "expected an integer, got \"ten\"");
}

#[test]
fn units_are_converted() {
    let config = load(&[
        ("MFN_MAX_MESSAGE_SIZE", "4"),
        ("MFN_CACHE_MB", "0"),
        ("MFN_SHUTDOWN_TIMEOUT_S", "0"),
        ("MFN_TLS_RELOAD_INTERVAL_S", "60"),
        ("MFN_KEEPALIVE_TIMEOUT_MS", "1500"),
    ])
    .unwrap();
    assert_eq!(config.network.max_message_bytes, 4 * 1024 * 1024);
    assert_eq!(config.service.cache_bytes, 0);
    assert_eq!(config.network.shutdown_timeout, Duration::ZERO);
    assert_eq!(config.tls.reload_interval, Duration::from_secs(60));
    assert_eq!(
        config.network.keepalive_timeout,
        Duration::from_millis(1500)
    );
}

#[test]
fn ports_must_differ_unless_zero() {
    let e = error(load(&[("GRPC_PORT", "9000"), ("MFN_HTTP_PORT", "9000")]));
    assert_eq!(e.key, "MFN_HTTP_PORT");
    assert_eq!(e.message, "must differ from GRPC_PORT (both 9000)");
    let e = error(load_file(&[("MFN_GRPC_PORT", "8080")], ""));
    assert_eq!(e.key, "MFN_HTTP_PORT");
    let config = load(&[("MFN_GRPC_PORT", "0"), ("MFN_HTTP_PORT", "0")]).unwrap();
    assert_eq!(config.grpc_addr().port(), 0);
}

#[test]
fn booleans_accept_the_usual_spellings() {
    for (text, mode) in [
        ("true", AuthMode::Key),
        ("TRUE", AuthMode::Key),
        ("1", AuthMode::Key),
        ("yes", AuthMode::Key),
        ("On", AuthMode::Key),
        ("false", AuthMode::Off),
        ("0", AuthMode::Off),
        ("No", AuthMode::Off),
        ("off", AuthMode::Off),
    ] {
        let config = load(&[("MFN_ENV", "prod"), ("GRPC_AUTH_ENABLED", text)]).unwrap();
        assert_eq!(config.auth.mode, mode, "{text}");
    }
    let e = error(load(&[("GRPC_AUTH_ENABLED", "maybe")]));
    assert_eq!(e.key, "GRPC_AUTH_ENABLED");
    assert!(e.message.starts_with("expected a boolean"), "{e}");
    let e = error(load_file(&[], "tls_enabled = \"yes\""));
    assert_eq!(e.key, "mfn.toml: tls_enabled");
    assert_eq!(e.message, "expected a boolean, got a string");
}

#[test]
fn auth_mode_precedence_and_conflicts() {
    // MFN_AUTH_MODE wins over GRPC_AUTH_ENABLED when they agree.
    let config = load(&[("MFN_AUTH_MODE", "signed"), ("GRPC_AUTH_ENABLED", "true")]).unwrap();
    assert_eq!(config.auth.mode, AuthMode::Signed);
    for (mode, enabled) in [("off", "true"), ("key", "false"), ("signed", "no")] {
        let e = error(load(&[
            ("MFN_AUTH_MODE", mode),
            ("GRPC_AUTH_ENABLED", enabled),
        ]));
        assert_eq!(
            e.key, "MFN_AUTH_MODE, GRPC_AUTH_ENABLED",
            "{mode}/{enabled}"
        );
    }
    // The environment switch beats the file's mode.
    let config = load_file(&[("GRPC_AUTH_ENABLED", "off")], "auth_mode = \"signed\"").unwrap();
    assert_eq!(config.auth.mode, AuthMode::Off);
    let config = load_file(&[], "auth_mode = \"KEY\"").unwrap();
    assert_eq!(config.auth.mode, AuthMode::Key);
    let e = error(load(&[("MFN_AUTH_MODE", "hmac")]));
    assert_eq!(e.message, "expected one of off, key, signed, got \"hmac\"");
}

#[test]
fn file_errors_name_the_key() {
    let e = error(load_file(&[], "grpc_prot = 1"));
    assert_eq!(e.key, "mfn.toml: grpc_prot");
    assert_eq!(e.message, "unknown key (did you mean grpc_port?)");
    let e = error(load_file(&[], "completely_unrelated = 1"));
    assert_eq!(e.message, "unknown key");
    // The environment does not excuse a typo in the file.
    let e = error(load_file(&[("MFN_GRPC_PORT", "1")], "api_keys = \"x\""));
    assert_eq!(e.key, "mfn.toml: api_keys");

    let e = error(load_file(&[], "grpc_port = \"50051\""));
    assert_eq!(e.key, "mfn.toml: grpc_port");
    assert_eq!(e.message, "expected an integer, got a string");
    let e = error(load_file(&[], "env = 3"));
    assert_eq!(e.message, "expected a string, got an integer");
    let e = error(load_file(&[], "cors_origins = [1]"));
    assert_eq!(e.key, "mfn.toml: cors_origins");
    let e = error(load_file(&[], "log_level = \"\""));
    assert_eq!(e.message, "must not be empty");

    let e = error(load_file(&[], "grpc_port = 1\nmax_steps = = 2\n"));
    assert_eq!(e.key, "mfn.toml");
    assert!(e.message.starts_with("invalid toml at line 2"), "{e}");
}

#[test]
fn invalid_cors_origins_are_rejected() {
    for bad in [
        "example.com",
        "https://a.example/",
        "ftp://a.example",
        "https://",
    ] {
        let e = error(load(&[("MFN_CORS_ORIGINS", bad)]));
        assert_eq!(e.key, "MFN_CORS_ORIGINS", "{bad}");
        assert!(e.message.starts_with("invalid origin"), "{e}");
    }
}

#[test]
fn from_env_reads_the_file_named_by_mfn_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfn.toml");
    std::fs::write(&path, "max_grid_size = 64\nmax_steps = 0\n").unwrap();
    let path = path.to_str().unwrap();
    let e = error(ServerConfig::from_env(&vars(&[("MFN_CONFIG", path)])));
    assert_eq!(e.key, format!("{path}: max_steps"));
    let config =
        ServerConfig::from_env(&vars(&[("MFN_CONFIG", path), ("MFN_MAX_STEPS", "10")])).unwrap();
    assert_eq!(
        (
            config.service.limits.max_grid_size,
            config.service.limits.max_steps
        ),
        (64, 10)
    );

    let missing = dir.path().join("nope.toml");
    let e = error(ServerConfig::from_env(&vars(&[(
        "MFN_CONFIG",
        missing.to_str().unwrap(),
    )])));
    assert_eq!(e.key, "MFN_CONFIG");
    assert!(e.message.contains("nope.toml"), "{e}");
    assert!(
        e.to_string()
            .starts_with("invalid configuration: MFN_CONFIG: cannot read")
    );
}

#[test]
fn tls_rules() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, "pem").unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (cert, key, ca) = (file("cert.pem"), file("key.pem"), file("ca.pem"));
    let (cert, key, ca) = (cert.as_str(), key.as_str(), ca.as_str());
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let directory = dir.path().to_str().unwrap();

    // Both paths enable TLS; nothing set disables it.
    let expected = TlsSettings {
        cert_path: cert.into(),
        key_path: key.into(),
        client_ca_path: None,
    };
    let config = load(&[("MFN_TLS_CERT_PATH", cert), ("MFN_TLS_KEY_PATH", key)]).unwrap();
    assert_eq!(config.tls.settings().as_ref(), Some(&expected));
    let config = load(&[("GRPC_TLS_CERT_PATH", cert), ("GRPC_TLS_KEY_PATH", key)]).unwrap();
    assert_eq!(config.tls.settings().as_ref(), Some(&expected));
    let toml = format!("tls_cert_path = {cert:?}\ntls_key_path = {key:?}\n");
    assert_eq!(
        load_file(&[], &toml).unwrap().tls.settings().as_ref(),
        Some(&expected)
    );
    assert_eq!(load(&[]).unwrap().tls.settings(), None);

    // With the client CA: mutual TLS.
    let config = load(&[
        ("MFN_TLS_CERT_PATH", cert),
        ("MFN_TLS_KEY_PATH", key),
        ("MFN_TLS_CLIENT_CA_PATH", ca),
        ("MFN_TLS_ENABLED", "yes"),
    ])
    .unwrap();
    assert_eq!(
        config.tls.settings().unwrap().client_ca_path,
        Some(ca.into())
    );

    // Explicitly disabled wins over paths.
    let config = load(&[
        ("MFN_TLS_CERT_PATH", cert),
        ("MFN_TLS_KEY_PATH", key),
        ("GRPC_TLS_ENABLED", "false"),
    ])
    .unwrap();
    assert_eq!(config.tls.settings(), None);

    // Enabled without paths, one path alone, a CA alone.
    let e = error(load(&[("GRPC_TLS_ENABLED", "true")]));
    assert_eq!(e.key, "GRPC_TLS_ENABLED");
    assert!(e.message.contains("MFN_TLS_CERT_PATH"), "{e}");
    let e = error(load(&[
        ("MFN_TLS_ENABLED", "1"),
        ("MFN_TLS_CERT_PATH", cert),
    ]));
    assert_eq!(e.key, "MFN_TLS_KEY_PATH");
    let e = error(load(&[("GRPC_TLS_KEY_PATH", key)]));
    assert_eq!(e.key, "MFN_TLS_CERT_PATH");
    assert_eq!(e.message, "must be set together with GRPC_TLS_KEY_PATH");
    let e = error(load(&[("MFN_TLS_CLIENT_CA_PATH", ca)]));
    assert_eq!(e.key, "MFN_TLS_CLIENT_CA_PATH");

    // Files must exist and be files.
    let e = error(load(&[
        ("MFN_TLS_CERT_PATH", missing),
        ("MFN_TLS_KEY_PATH", key),
    ]));
    assert_eq!(e.key, "MFN_TLS_CERT_PATH");
    assert!(e.message.contains("missing.pem"), "{e}");
    let e = error(load(&[
        ("MFN_TLS_CERT_PATH", cert),
        ("MFN_TLS_KEY_PATH", key),
        ("MFN_TLS_CLIENT_CA_PATH", directory),
    ]));
    assert_eq!(e.key, "MFN_TLS_CLIENT_CA_PATH");
    assert!(e.message.ends_with("is not a file"), "{e}");
    let toml = format!("tls_cert_path = {cert:?}\ntls_key_path = {missing:?}\n");
    let e = error(load_file(&[], &toml));
    assert_eq!(e.key, "mfn.toml: tls_key_path");
}

#[test]
fn unknown_env_vars_reports_only_unread_mfn_names() {
    let vars = vars(&[
        ("MFN_GRPC_PROT", "1"),
        ("MFN_GRPC_PORT", "1"),
        ("GRPC_PORT", "1"),
        ("GRPC_SOMETHING", "1"),
        ("MFN_API_KEYS", "k"),
        ("MFN_CONFIG", "x"),
        ("MFN_DATA_DIR", "d"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
        ("MFN_LOGLEVEL", "debug"),
        ("PATH", "/bin"),
    ]);
    assert_eq!(
        unknown_env_vars(&vars),
        vec!["MFN_GRPC_PROT", "MFN_LOGLEVEL"]
    );
    // Every MFN_ variable read here is known.
    let known: HashMap<String, String> = SETTINGS
        .iter()
        .flat_map(Setting::env_names)
        .map(|name| (name.to_owned(), String::new()))
        .collect();
    assert!(unknown_env_vars(&known).is_empty());
}

#[test]
fn otlp_export_is_configured_by_the_standard_otel_variables() {
    let d = load(&[]).unwrap();
    assert_eq!(
        (
            d.telemetry.otlp_endpoint,
            d.telemetry.otel_service_name.as_str()
        ),
        (None, "mfn")
    );
    let c = load(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ("OTEL_SERVICE_NAME", "mfn-eu"),
    ])
    .unwrap();
    assert_eq!(
        c.telemetry.otlp_endpoint.as_deref(),
        Some("http://collector:4317")
    );
    assert_eq!(c.telemetry.otel_service_name, "mfn-eu");
    assert_eq!(
        load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")])
            .unwrap()
            .telemetry
            .otlp_endpoint,
        None
    );
    let e = error(load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")]));
    assert_eq!(e.key, "OTEL_EXPORTER_OTLP_ENDPOINT");
    assert!(e.message.contains("http://"), "{}", e.message);
}

#[test]
fn api_keys_are_hashed_and_the_file_must_exist() {
    let config = load(&[
        ("MFN_API_KEY", "alpha"),
        ("MFN_API_KEYS", "beta, gamma,,alpha,"),
        ("MFN_AUTH_WINDOW_S", "60"),
        ("MFN_ANON_RATE_LIMIT_RPS", "7"),
        ("MFN_ANON_RATE_LIMIT_CONCURRENT", "3"),
    ])
    .unwrap();
    let hash = crate::security::keys::hash_key;
    assert_eq!(
        config.auth.api_key_hashes,
        vec![hash("alpha"), hash("beta"), hash("gamma")]
    );
    assert_eq!(config.auth.window, Duration::from_secs(60));
    assert_eq!(config.rate_limits.anon_rps, 7);
    assert_eq!(config.rate_limits.anon_concurrent, 3);
    // The plaintext never appears in the config's Debug output.
    assert!(!format!("{config:?}").contains("alpha"));
    let defaults = load(&[]).unwrap();
    assert!(defaults.auth.api_key_hashes.is_empty() && defaults.auth.api_keys_file.is_none());
    assert_eq!(defaults.auth.window, Duration::from_secs(300));
    assert_eq!(defaults.rate_limits.anon_rps, 100);

    let e = error(load(&[("MFN_API_KEYS", "a b")]));
    assert_eq!(e.key, "MFN_API_KEYS");
    let e = error(load(&[("MFN_API_KEYS_FILE", "/nonexistent/keys")]));
    assert_eq!(e.key, "MFN_API_KEYS_FILE");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    std::fs::write(&path, "").unwrap();
    let file = format!("api_keys_file = {:?}", path.to_str().unwrap());
    let config = load_file(&[], &file).unwrap();
    assert_eq!(config.auth.api_keys_file.as_deref(), Some(path.as_path()));
    // Plaintext keys have no file key.
    let e = error(load_file(&[], "api_key = \"k\""));
    assert!(e.message.starts_with("unknown key"), "{e}");
}

#[test]
fn error_display_is_one_lowercase_line() {
    let e = error(load(&[("MFN_MAX_WORKERS", "0")]));
    assert_eq!(
        e.to_string(),
        "invalid configuration: MFN_MAX_WORKERS: must be in [1, 1024], got 0"
    );
}

#[test]
fn every_setting_parses_a_valid_value_into_a_field() {
    use settings::Type;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, "pem").unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (a, b) = (file("a.pem"), file("b.pem"));
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
            Type::Path | Type::File => vec![b.clone()],
            Type::Origins => vec!["https://a.example".into()],
            Type::Hosts => vec!["a.example:8080".into()],
            Type::Keys => vec!["k1,k2".into()],
        };
        let mut changed = false;
        for sample in &samples {
            let mut pairs = base.to_vec();
            pairs.retain(|(k, _)| *k != s.var);
            pairs.push((s.var, sample));
            let config = load(&pairs).unwrap_or_else(|e| panic!("{}={sample}: {e}", s.var));
            changed |= config != before;
        }
        assert!(changed, "{} fills no field ({samples:?})", s.var);
    }
}

#[test]
fn default_is_the_table_and_agrees_with_the_service_layer() {
    let config = ServerConfig::default();
    assert_eq!(config, load(&[]).unwrap());
    // The service layer's own defaults (library use) are the table's, but for the store.
    let mut service = ServiceConfig::default();
    service.graphs.data_dir = Some(PathBuf::from("mfn-data"));
    assert_eq!(config.service, service);
    // Each part's default is its share of the whole.
    assert_eq!(NetworkConfig::default(), config.network);
    assert_eq!(RateLimits::default(), config.rate_limits);
    assert_eq!(McpConfig::default(), config.mcp);
}

#[test]
fn websocket_sessions_are_configured_by_settings() {
    let d = WsConfig::default();
    assert_eq!(
        (d.max_streams, d.queue_capacity, d.queue_bytes),
        (8, 64, 16 * MIB)
    );
    assert_eq!(
        (d.heartbeat_interval, d.idle_timeout),
        (Duration::from_secs(30), Duration::from_secs(60))
    );
    assert_eq!(
        (
            d.max_message_bytes,
            d.json_field_max_side,
            d.max_auth_attempts
        ),
        (64 * 1024, 128, 5)
    );
    let c = load_file(
        &[("MFN_WS_MAX_STREAMS", "3"), ("MFN_WS_MAX_MESSAGE_KB", "8")],
        "ws_idle_timeout_s = 5\nws_queue_mb = 2\n",
    )
    .unwrap();
    assert_eq!(c.ws.max_streams, 3);
    assert_eq!(c.ws.max_message_bytes, 8 * 1024);
    assert_eq!(c.ws.idle_timeout, Duration::from_secs(5));
    assert_eq!(c.ws.queue_bytes, 2 * MIB);
    let e = error(load(&[("MFN_WS_MAX_STREAMS", "0")]));
    assert_eq!(
        e.to_string(),
        "invalid configuration: MFN_WS_MAX_STREAMS: must be in [1, 1024], got 0"
    );
}

#[test]
fn flags_beat_the_environment_and_are_named_in_errors() {
    let flag = |var: &'static str, name: &str, value: &str| Flag {
        var,
        name: name.into(),
        value: value.into(),
    };
    // The flag replaces the variable and its alias: no conflict between them.
    let env = vars(&[
        ("MFN_GRPC_PORT", "7001"),
        ("GRPC_PORT", "7002"),
        ("MFN_ENV", "prod"),
    ]);
    let c = ServerConfig::from_flags(
        &[
            flag("MFN_GRPC_PORT", "--grpc-port", "6001"),
            flag("MFN_ENV", "--env", "staging"),
        ],
        &env,
    )
    .unwrap();
    assert_eq!((c.network.grpc_port, c.env), (6001, Environment::Staging));
    // An empty flag is no flag.
    let c = ServerConfig::from_flags(&[flag("MFN_HOST", "--host", " ")], &vars(&[])).unwrap();
    assert_eq!(c.network.host, IpAddr::V4(Ipv4Addr::LOCALHOST));

    let e = error(ServerConfig::from_flags(
        &[flag("MFN_GRPC_PORT", "--grpc-port", "70000")],
        &vars(&[]),
    ));
    assert_eq!(
        e.to_string(),
        "invalid configuration: --grpc-port: must be in [0, 65535], got 70000"
    );
    let e = error(ServerConfig::from_flags(
        &[flag("MFN_HTTP_PORT", "--http-port", "50051")],
        &vars(&[]),
    ));
    assert_eq!(e.key, "--http-port");
    assert_eq!(e.message, "must differ from MFN_GRPC_PORT (both 50051)");
    let e = error(ServerConfig::from_flags(
        &[flag("MFN_CONFIG", "--config", "/nonexistent/mfn.toml")],
        &vars(&[("MFN_CONFIG", "/also/missing.toml")]),
    ));
    assert_eq!(e.key, "--config");
    assert!(e.message.contains("/nonexistent/mfn.toml"), "{e}");

    // Flag > environment > file > default, for one key.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfn.toml");
    std::fs::write(&path, "grpc_port = 7003\nmax_steps = 77\n").unwrap();
    let path = path.to_str().unwrap();
    let c = ServerConfig::from_flags(&[flag("MFN_CONFIG", "--config", path)], &vars(&[])).unwrap();
    assert_eq!(
        (c.network.grpc_port, c.service.limits.max_steps),
        (7003, 77)
    );
    assert_eq!(c.config_file.as_deref(), Some(std::path::Path::new(path)));
    let env = vars(&[("GRPC_PORT", "7002")]);
    let c = ServerConfig::from_flags(&[flag("MFN_CONFIG", "--config", path)], &env).unwrap();
    assert_eq!(c.network.grpc_port, 7002);
    let c = ServerConfig::from_flags(
        &[
            flag("MFN_CONFIG", "--config", path),
            flag("MFN_GRPC_PORT", "--grpc-port", "7001"),
        ],
        &env,
    )
    .unwrap();
    assert_eq!(c.network.grpc_port, 7001);
}
