//! The in-process bus: a broadcast channel, for a single binary.

use tokio::sync::broadcast;

use crate::CloudEvent;

/// Events published inside this process. Cloning shares the channel.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<CloudEvent>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessBus {
    /// A channel keeping up to 4,096 events for slow receivers.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(4096);
        Self { sender }
    }

    /// Sends to every current receiver (none is fine).
    pub fn publish(&self, events: &[CloudEvent]) {
        for event in events {
            // An error only means nobody listens right now.
            let _ = self.sender.send(event.clone());
        }
    }

    /// A receiver of every event published from now on.
    pub fn receiver(&self) -> broadcast::Receiver<CloudEvent> {
        self.sender.subscribe()
    }
}
