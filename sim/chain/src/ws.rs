//! One WebSocket connection: answers calls (each as soon as its backend is done, so a slow answer is
//! overtaken by later ones and by notifications), pushes subscription notifications, and obeys the drop,
//! stall, duplicate and loss faults.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::node::Node;
use crate::rpc;
use crate::subscriptions::Subscriptions;

/// Serves `socket` until the client leaves, a drop fault hits, or the client is too slow to keep up
/// with the chain (it is then disconnected, as providers do).
pub(crate) async fn serve(node: Arc<Node>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let mut events = node.events();
    let mut drops = node.faults.watch_drops();
    let mut stall = node.faults.watch_stall();
    let mut subscriptions = Subscriptions::new(node.faults.seed());
    let mut rng = fastrand::Rng::with_seed(node.faults.seed());
    // Requests that arrived as a stall began, answered when it ends.
    let mut held: Vec<String> = Vec::new();
    // Answers whose backend takes time, sent when it is done.
    let (late, mut finished) = mpsc::unbounded_channel::<String>();
    loop {
        let stalled = stall.stalled();
        if !stalled {
            for text in held.drain(..) {
                if !answer(&node, &mut sink, &mut subscriptions, &text, &late).await {
                    return;
                }
            }
        }
        tokio::select! {
            Some(reply) = finished.recv(), if !stalled => {
                if sink.send(Message::Text(reply.into())).await.is_err() {
                    return;
                }
            }
            _ = drops.changed() => {
                tracing::debug!("dropping WebSocket connection");
                return;
            }
            changed = stall.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            message = stream.next(), if !stalled => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                };
                if stall.stalled() {
                    held.push(text);
                } else if !answer(&node, &mut sink, &mut subscriptions, &text, &late).await {
                    return;
                }
            }
            event = events.recv() => {
                let event = match event {
                    Ok(event) => event,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "WebSocket client too slow, disconnecting it");
                        return;
                    }
                    Err(RecvError::Closed) => return,
                };
                if stall.stalled() {
                    continue;
                }
                for notification in subscriptions.notifications(&event) {
                    let copies = if node.faults.lose(&mut rng) {
                        0
                    } else if node.faults.duplicate(&mut rng) {
                        2
                    } else {
                        1
                    };
                    for _ in 0..copies {
                        if sink.feed(Message::Text(notification.clone().into())).await.is_err() {
                            return;
                        }
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Answers one message, at once or through `late` once its backend is done; false when the socket is gone.
async fn answer(
    node: &Node,
    sink: &mut SplitSink<WebSocket, Message>,
    subscriptions: &mut Subscriptions,
    text: &str,
    late: &mpsc::UnboundedSender<String>,
) -> bool {
    let rate_limited = node.faults.rate_limited().is_some();
    let reply = rpc::handle_message(node, text, Some(subscriptions), rate_limited);
    let Some(text) = reply.text else {
        return true;
    };
    if reply.delay.is_zero() {
        return sink.send(Message::Text(text.into())).await.is_ok();
    }
    let late = late.clone();
    tokio::spawn(async move {
        tokio::time::sleep(reply.delay).await;
        // The connection may be gone by then.
        let _ = late.send(text);
    });
    true
}
