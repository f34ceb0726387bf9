//! The prompts an agent can start from: each names the tools to chain and what to
//! report, with the caller's arguments filled in.
//!
//! - `analyze_graph(graph)`: size and connectivity, then the central nodes and the
//!   communities of a stored graph;
//! - `analyze_mycelium(seed, grid_size, steps)`: simulate a field, turn it into a network
//!   (`extract_network`), then rank its hyphal junctions by betweenness;
//! - `create_social_network(name, size)`: seed 003's prompt — a scale-free "social" graph
//!   (`generate_graph` Barabási–Albert), then its hubs, communities and clustering.

use mfn_service::mfn_core::field::SimulationParams;
use rmcp::ErrorData;
use rmcp::model::{GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage, Role};
use serde_json::Value;

/// The prompts, for `prompts/list`.
pub fn list() -> Vec<Prompt> {
    vec![
        Prompt::new(
            "analyze_graph",
            Some("Analyse a stored graph: statistics, connectivity, central nodes, communities"),
            Some(vec![
                PromptArgument::new("graph")
                    .with_description("Name of a stored graph (see resources graph://{name})")
                    .with_required(true),
            ]),
        ),
        Prompt::new(
            "analyze_mycelium",
            Some(
                "Simulate a mycelium field, extract its network and find the hyphal junctions that carry the most transport",
            ),
            Some(vec![
                PromptArgument::new("seed")
                    .with_description("Random seed (integer, default 42)")
                    .with_required(false),
                PromptArgument::new("grid_size")
                    .with_description("Grid side length N (default 64)")
                    .with_required(false),
                PromptArgument::new("steps")
                    .with_description("Simulation steps (default 64)")
                    .with_required(false),
            ]),
        ),
        Prompt::new(
            "create_social_network",
            Some(
                "Create a seeded social-style network (preferential attachment) and describe its hubs and communities",
            ),
            Some(vec![
                PromptArgument::new("name")
                    .with_description("Name of the new graph (default social_network)")
                    .with_required(false),
                PromptArgument::new("size")
                    .with_description("People, i.e. nodes (default 30)")
                    .with_required(false),
            ]),
        ),
    ]
}

/// `prompts/get`: the prompt `name` with `args`; an unknown name or a missing required
/// argument is `-32602`.
pub fn get(name: &str, args: Option<&JsonObject>) -> Result<GetPromptResult, ErrorData> {
    let invalid = |message: String| ErrorData::invalid_params(message, None);
    let arg = |key: &str| -> Option<String> {
        args.and_then(|a| a.get(key)).and_then(|v| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    // `default` when absent, else an integer of at least `min`: `what` says so.
    let number = |key: &str, default: u64, min: u64, what: &str| match arg(key) {
        None => Ok(default),
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= min)
            .ok_or_else(|| invalid(format!("{key}: {s:?} is not {what}"))),
    };
    let (description, text) = match name {
        "analyze_graph" => {
            let needs = "graph: analyze_graph needs the name of a stored graph";
            let graph = arg("graph").ok_or_else(|| invalid(needs.into()))?;
            let description = format!("Analyse the stored graph {graph:?}");
            (description, analyze_graph(&graph))
        }
        "analyze_mycelium" => {
            let (d, what) = (SimulationParams::default(), "a non-negative integer");
            let seed = number("seed", mfn_service::request::DEFAULT_SEED, 0, what)?;
            let grid = number("grid_size", d.grid_size as u64, 0, what)?;
            let steps = number("steps", d.steps as u64, 0, what)?;
            let description = format!(
                "Simulate and analyse a mycelium network (seed {seed}, {grid}×{grid}, {steps} steps)"
            );
            (description, analyze_mycelium(seed, grid, steps))
        }
        "create_social_network" => {
            let name = arg("name").unwrap_or_else(|| "social_network".to_owned());
            let size = number("size", 30, 4, "an integer of at least 4")?;
            let description =
                format!("Create and describe the social network {name:?} of {size} people");
            (description, create_social_network(&name, size))
        }
        other => {
            let unknown = format!("unknown prompt {other:?}; prompts/list names them");
            return Err(invalid(unknown));
        }
    };
    let mut result = GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]);
    result.description = Some(description);
    Ok(result)
}

fn analyze_graph(graph: &str) -> String {
    format!(
        "Analyse the graph \"{graph}\" stored on the MFN server.\n\
         \n\
         1. Call get_info with {{\"graph\": \"{graph}\"}} and graph_statistics with the same \
         argument: report nodes, edges, density, whether it is connected, diameter.\n\
         2. Call connected_components: how many components, and their sizes.\n\
         3. Call degree_centrality, betweenness_centrality and pagerank with \
         {{\"graph\": \"{graph}\", \"top_k\": 10}}: list the ten most central nodes of each \
         and say where the rankings agree.\n\
         4. Call community_detection with {{\"graph\": \"{graph}\", \"method\": \"louvain\", \
         \"seed\": 1}}: number of communities, their sizes and the modularity.\n\
         5. Summarise: which nodes hold the network together, and how it splits.\n\
         \n\
         The full graph is the resource graph://{graph} (node-link JSON) if you need it. If a \
         call returns isError, read its message: it names the argument and the limit."
    )
}

fn analyze_mycelium(seed: u64, grid: u64, steps: u64) -> String {
    format!(
        "Simulate a mycelium network on the MFN server and find its key junctions.\n\
         \n\
         1. Call simulate_field with {{\"seed\": {seed}, \"grid_size\": {grid}, \"steps\": {steps}}} \
         and report the field's mean, range and growth events (mV).\n\
         2. Call extract_features with the same arguments: report the fractal dimension and \
         the other features that stand out.\n\
         3. If the tool list has extract_network, call it with the same seed, grid_size and \
         steps and a graph name such as \"mycelium_{seed}\"; it stores the hyphal network as a \
         graph. Then call get_info and connected_components on that graph.\n\
         4. Call betweenness_centrality on it with top_k 10: these junctions carry the most \
         shortest transport paths. Add pagerank and clustering_coefficients for contrast.\n\
         5. Summarise the network: size, connectedness, the junctions that matter most and \
         what the features say about the pattern.\n\
         \n\
         If a call returns isError, its message names the argument and the limit: adjust it \
         (for example a smaller grid_size) and call again."
    )
}

fn create_social_network(name: &str, size: u64) -> String {
    format!(
        "Create a social network of {size} people on the MFN server and describe it.\n\
         \n\
         1. Call generate_graph with {{\"name\": \"{name}\", \"kind\": \"barabasi_albert\", \
         \"n\": {size}, \"m\": 3, \"seed\": 42}}: preferential attachment, so a few people \
         gather many friends, as in real social networks. (To build one by hand instead, call \
         create_graph, then add_nodes and add_edges.)\n\
         2. Call graph_info and graph_statistics with {{\"graph\": \"{name}\"}}: people, \
         friendships, density.\n\
         3. Call degree_centrality and pagerank with top_k 5: who are the hubs?\n\
         4. Call community_detection with method louvain and seed 1: which groups form, and \
         how strongly (modularity)?\n\
         5. Call clustering_coefficients: do friends of friends know each other?\n\
         6. Summarise the network in a few sentences.\n\
         \n\
         If a call returns isError, its message names the argument and the limit."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prompts_fill_in_their_arguments() {
        let args = json!({"graph": "karate"});
        let r = get("analyze_graph", args.as_object()).unwrap();
        let text = serde_json::to_string(&r.messages).unwrap();
        assert!(text.contains("betweenness_centrality") && text.contains("karate"));
        let args = json!({"seed": "7", "grid_size": 32});
        let r = get("analyze_mycelium", args.as_object()).unwrap();
        let text = serde_json::to_string(&r.messages).unwrap();
        assert!(
            text.contains("\\\"seed\\\": 7") && text.contains("extract_network"),
            "{text}"
        );
        assert!(get("analyze_graph", None).is_err());
        assert!(get("nope", None).is_err());
        let bad = json!({"seed": "x"});
        assert!(get("analyze_mycelium", bad.as_object()).is_err());
        let args = json!({"name": "club", "size": "12"});
        let r = get("create_social_network", args.as_object()).unwrap();
        let text = serde_json::to_string(&r.messages).unwrap();
        assert!(
            text.contains("\\\"n\\\": 12") && text.contains("\\\"club\\\""),
            "{text}"
        );
        let bad = json!({"size": "2"});
        assert!(get("create_social_network", bad.as_object()).is_err());
        assert_eq!(list().len(), 3);
    }
}
