//! Whole-flow checks on the node graph: reachability, loops, information-only menus.

use std::path::Path;

use serde_saphyr::Location;

use super::diagnostic::{Diagnostic, Severity};
use super::model::*;

/// Checks a flow whose nodes all resolved; `locations` holds each node's position.
pub(crate) fn graph(flow: &Flow, locations: &[Location], file: &Path) -> Vec<Diagnostic> {
    let at = |id: NodeId| locations.get(id.0).copied().unwrap_or(Location::UNKNOWN);
    let diag = |severity, id: NodeId, message: String| {
        Diagnostic::at(severity, file.to_owned(), at(id), message)
    };
    let edges = edges(flow);
    let mut out = Vec::new();

    let mut reached = vec![false; flow.nodes.len()];
    let mut stack = vec![flow.start, flow.top];
    while let Some(id) = stack.pop() {
        if !std::mem::replace(&mut reached[id.0], true) {
            stack.extend(edges[id.0].iter().filter_map(|t| t.node()));
        }
    }
    for (i, node) in flow.nodes.iter().enumerate() {
        if !reached[i] {
            let message = format!(
                "node '{}' is not reached from the start of the flow",
                node.name
            );
            out.push(diag(Severity::Warning, NodeId(i), message));
        }
    }

    for component in strongly_connected(&edges) {
        let first = component[0];
        let cycles = component.len() > 1 || edges[first.0].contains(&Edge::To(first));
        let leaves = component.iter().any(|id| {
            edges[id.0].iter().any(|e| match e {
                Edge::To(t) => !component.contains(t),
                Edge::Back => true,
            })
        });
        if !cycles || leaves {
            continue;
        }
        let names: Vec<String> = component
            .iter()
            .map(|id| format!("'{}'", flow.node(*id).name))
            .collect();
        let chooses = component.iter().any(|id| {
            matches!(
                flow.node(*id).kind,
                NodeKind::Menu(_) | NodeKind::Collect(_)
            )
        });
        let message = if chooses {
            format!(
                "nodes {} form a loop with no way out to a person or the end of the call",
                names.join(", ")
            )
        } else {
            format!(
                "nodes {} form a loop that never reaches a caller choice or a person",
                names.join(", ")
            )
        };
        out.push(diag(Severity::Error, first, message));
    }

    for (i, node) in flow.nodes.iter().enumerate() {
        if let NodeKind::Menu(menu) = &node.kind
            && menu.items.len() > MAX_INFORMATION_ITEMS
            && !menu
                .items
                .iter()
                .any(|item| serves_itself(flow, item.target))
        {
            let message = format!(
                "menu '{}' only gives information and has {} items; callers cope with at most {MAX_INFORMATION_ITEMS}",
                node.name,
                menu.items.len()
            );
            out.push(diag(Severity::Warning, NodeId(i), message));
        }
    }
    out
}

/// An edge of the node graph; `back` returns to an earlier menu, which is always a way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    To(NodeId),
    Back,
}

impl Edge {
    fn node(self) -> Option<NodeId> {
        match self {
            Edge::To(id) => Some(id),
            Edge::Back => None,
        }
    }
}

fn edges(flow: &Flow) -> Vec<Vec<Edge>> {
    let resolve = |from: NodeId, t: Target| match t {
        Target::Node(id) => Edge::To(id),
        Target::Top => Edge::To(flow.top),
        Target::Repeat => Edge::To(from),
        Target::Back => Edge::Back,
    };
    flow.nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let from = NodeId(i);
            let mut targets = node.targets();
            if matches!(node.kind, NodeKind::Menu(_)) {
                targets.extend(flow.global_keys.iter().map(|(_, t)| *t));
            }
            targets.into_iter().map(|t| resolve(from, t)).collect()
        })
        .collect()
}

/// Whether an item leads, before the next menu, to a lookup, a collect or a ticket.
fn serves_itself(flow: &Flow, target: Target) -> bool {
    let Target::Node(start) = target else {
        return false;
    };
    let mut seen = vec![false; flow.nodes.len()];
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id.0], true) {
            continue;
        }
        let node = flow.node(id);
        match node.kind {
            NodeKind::Lookup(_) | NodeKind::Collect(_) | NodeKind::Ticket(_) => return true,
            NodeKind::Menu(_) => continue,
            _ => stack.extend(node.targets().into_iter().filter_map(|t| match t {
                Target::Node(n) => Some(n),
                _ => None,
            })),
        }
    }
    false
}

/// Tarjan's algorithm; components come out with their nodes in file order.
fn strongly_connected(edges: &[Vec<Edge>]) -> Vec<Vec<NodeId>> {
    struct State<'a> {
        edges: &'a [Vec<Edge>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<NodeId>>,
    }
    fn visit(s: &mut State, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for w in s.edges[v].iter().filter_map(|e| e.node()).map(|n| n.0) {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(NodeId(w));
                if w == v {
                    break;
                }
            }
            component.sort();
            s.out.push(component);
        }
    }
    let n = edges.len();
    let mut s = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}
