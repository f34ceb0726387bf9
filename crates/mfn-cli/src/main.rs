//! `mfn` — MyceliumFractalNet on the command line.
//!
//! This file only parses flags and dispatches; the verbs live in
//! [`mfn_cli::commands`]. Reports go to stdout as JSON (`--format json`, the default
//! when stdout is not a terminal) or as a key/value table. Any error is printed as one
//! line, `error: ...`, on stderr and exits with code 2 (clap's usage errors also exit 2).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mfn_cli::commands::graph::{self, GraphArgs};
use mfn_cli::commands::health::{self, HealthArgs};
use mfn_cli::commands::network::{self, NetworkArgs};
use mfn_cli::commands::pipeline::{self, PipelineArgs};
use mfn_cli::commands::{
    aggregate, bench, features, fractal, ifs, keys, mcp, nernst, serve, simulate, validate,
};
use mfn_cli::commands::{
    aggregate::AggregateArgs, bench::BenchArgs, features::FeaturesArgs, fractal::FractalArgs,
    ifs::IfsArgs, keys::KeysArgs, mcp::McpArgs, nernst::NernstArgs, serve::ServeArgs,
    simulate::SimulateArgs, validate::ValidateArgs,
};
use mfn_cli::output::{self, Format};
use mfn_cli::remote::Remote;

/// Exit code for bad input and every other failure.
const EXIT_ERROR: u8 = 2;

/// MyceliumFractalNet: field simulation, fractal analysis and validation.
#[derive(Debug, Parser)]
#[command(name = "mfn", version, propagate_version = true)]
struct Cli {
    /// Output format [default: table on a terminal, json otherwise]
    #[arg(long, global = true, value_enum)]
    format: Option<Format>,
    /// Run the verb on an MFN server (e.g. http://127.0.0.1:50051) instead of locally
    #[arg(long, global = true, env = "MFN_REMOTE", value_name = "URL")]
    remote: Option<String>,
    /// API key for --remote
    #[arg(
        long,
        global = true,
        env = "MFN_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    api_key: Option<String>,
    /// Sign every --remote call with HMAC-SHA256 (MFN_AUTH_MODE=signed servers)
    #[arg(long, global = true)]
    signed: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate the potential field and report its metrics and hash
    #[command(allow_negative_numbers = true)]
    Simulate(SimulateArgs),
    /// Simulate, then extract the 18 canonical features
    #[command(allow_negative_numbers = true)]
    Features(FeaturesArgs),
    /// Box-counting fractal dimension of a .npy, .csv or PNG array
    #[command(allow_negative_numbers = true)]
    Fractal(FractalArgs),
    /// Nernst equilibrium potential of an ion
    #[command(allow_negative_numbers = true)]
    Nernst(NernstArgs),
    /// IFS fractal points and their Lyapunov exponent
    #[command(allow_negative_numbers = true)]
    Ifs(IfsArgs),
    /// Robust (hierarchical Krum) aggregation of gradients from a JSON file
    #[command(allow_negative_numbers = true)]
    Aggregate(AggregateArgs),
    /// Pattern validation: dataset, model training and reference values
    #[command(allow_negative_numbers = true)]
    Validate(ValidateArgs),
    /// Serve the gRPC API (health, reflection, TLS) and the HTTP probes until SIGTERM
    Serve(ServeArgs),
    /// Serve every tool to an AI agent over MCP on stdin/stdout (logs on stderr)
    Mcp(McpArgs),
    /// API keys for the server: `mfn keys generate` prints a new key once
    Keys(KeysArgs),
    /// Load-test a server (--remote): unary and streaming RPCs, start-up time, memory
    Bench(BenchArgs),
    /// Run a graph tool on a graph file: `mfn graph TOOL --input FILE --args JSON`
    #[command(allow_negative_numbers = true)]
    Graph(GraphArgs),
    /// Extract the mycelial network of a simulated field or an image and print its metrics
    #[command(allow_negative_numbers = true)]
    Network(NetworkArgs),
    /// Check a server's grpc.health.v1 and /ready; one line, exit 0 (ready) or 1
    Health(HealthArgs),
    /// Run the data pipeline: requests from Kafka, HTTP or a directory, results to Kafka, a webhook or files
    Pipeline(PipelineArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Serve(args) = cli.command {
        return serve::main(args);
    }
    if let Command::Mcp(args) = cli.command {
        return mcp::main(args);
    }
    if let Command::Health(args) = cli.command {
        return health::main(args);
    }
    if let Command::Pipeline(args) = cli.command {
        return pipeline::main(args);
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` joins the context chain on one line; keep it one line regardless.
            let message = format!("{err:#}").replace(['\n', '\r'], " ");
            eprintln!("error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let format = Format::resolve(cli.format);
    if let Command::Bench(args) = &cli.command {
        let remote = cli.remote.clone().map(|url| Remote {
            url,
            api_key: cli.api_key.clone(),
            signed: cli.signed,
        });
        return output::print(&bench::run(args, remote.as_ref())?, format);
    }
    if let Some(url) = cli.remote.clone() {
        let remote = Remote {
            url,
            api_key: cli.api_key.clone(),
            signed: cli.signed,
        };
        return run_remote(cli.command, &remote, format);
    }
    match cli.command {
        Command::Simulate(args) => output::print(&simulate::run(&args)?, format),
        Command::Features(args) => output::print(&features::run(&args)?, format),
        Command::Fractal(args) => output::print(&fractal::run(&args)?, format),
        Command::Nernst(args) => output::print(&nernst::run(&args)?, format),
        Command::Ifs(args) => output::print(&ifs::run(&args)?, format),
        Command::Aggregate(args) => output::print(&aggregate::run(&args)?, format),
        Command::Validate(args) => output::print(&validate::run(&args)?, format),
        Command::Keys(args) => output::print(&keys::run(&args)?, format),
        Command::Graph(args) => output::print(&graph::run(&args)?, format),
        Command::Network(args) => output::print(&network::run(&args)?, format),
        Command::Serve(_) | Command::Mcp(_) | Command::Health(_) | Command::Pipeline(_) => {
            unreachable!("dispatched in main")
        }
        Command::Bench(_) => unreachable!("dispatched above"),
    }
}

/// The verb through the SDK against `remote`; same reports as the local run.
fn run_remote(command: Command, remote: &Remote, format: Format) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = remote.client()?;
        match command {
            Command::Simulate(args) => {
                output::print(&mfn_cli::remote::simulate(&client, &args).await?, format)
            }
            Command::Features(args) => {
                output::print(&mfn_cli::remote::features(&client, &args).await?, format)
            }
            Command::Validate(args) => {
                output::print(&mfn_cli::remote::validate(&client, &args).await?, format)
            }
            Command::Nernst(args) => {
                output::print(&mfn_cli::remote::nernst(&client, &args).await?, format)
            }
            Command::Aggregate(args) => {
                output::print(&mfn_cli::remote::aggregate(&client, &args).await?, format)
            }
            Command::Fractal(args) => {
                output::print(&mfn_cli::remote::fractal(&client, &args).await?, format)
            }
            Command::Ifs(args) => {
                output::print(&mfn_cli::remote::ifs(&client, &args).await?, format)
            }
            Command::Keys(_)
            | Command::Serve(_)
            | Command::Mcp(_)
            | Command::Bench(_)
            | Command::Health(_) => {
                anyhow::bail!("--remote does not apply to keys, serve or mcp")
            }
            Command::Pipeline(_) => anyhow::bail!("--remote does not apply to pipeline"),
            Command::Graph(_) | Command::Network(_) => {
                anyhow::bail!(
                    "--remote: graph and network tools run locally; remotely, use POST /v1/tools/{{name}} or MCP"
                )
            }
        }
    })
}
