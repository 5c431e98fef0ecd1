//! A fault-injecting TCP proxy to put between Warden and a real database, so
//! tests can cut, stall and slow the connection without touching the shared
//! server.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does to traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Close every connection, open or new: the server looks down.
    Refuse,
    /// Accept connections but forward nothing, in either direction, until the
    /// fault changes: a network partition, where nothing fails, it hangs.
    Blackhole,
    /// Hold every chunk this long before forwarding it.
    Delay(Duration),
    /// Forward what the client sends, drop what the server answers: the
    /// request is served, the answer is lost (a server that dies right after
    /// its commit, as the client sees it).
    DropReplies,
}

/// Which way a pump moves bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToServer,
    ToClient,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    fault: watch::Sender<Fault>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let (fault, _) = watch::channel(Fault::None);
        let watcher = fault.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(handle(inbound, upstream, watcher.subscribe()));
            }
        });
        FaultProxy { addr, fault, task }
    }

    /// The address to connect to instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes what happens to traffic, on open connections too.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        // Open connections end too: their pumps see the sender go away.
        self.fault.send_replace(Fault::Refuse);
    }
}

async fn handle(inbound: TcpStream, upstream: SocketAddr, mut fault: watch::Receiver<Fault>) {
    // A new connection under a partition stays open and silent.
    loop {
        let now = *fault.borrow_and_update();
        match now {
            Fault::Refuse => return,
            Fault::Blackhole => {
                if fault.changed().await.is_err() {
                    return;
                }
            }
            Fault::None | Fault::Delay(_) | Fault::DropReplies => break,
        }
    }
    let Ok(outbound) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (from_client, to_client) = inbound.into_split();
    let (from_server, to_server) = outbound.into_split();
    let (up, down) = (fault.clone(), fault.clone());
    let both = async move {
        tokio::join!(
            pump(from_client, to_server, up, Direction::ToServer),
            pump(from_server, to_client, down, Direction::ToClient),
        )
    };
    tokio::select! {
        _ = both => {}
        () = refused(fault) => {}
    }
}

/// Resolves when the fault becomes `Refuse` (or the proxy goes away).
async fn refused(mut fault: watch::Receiver<Fault>) {
    loop {
        if *fault.borrow_and_update() == Fault::Refuse {
            return;
        }
        if fault.changed().await.is_err() {
            return;
        }
    }
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut fault: watch::Receiver<Fault>,
    direction: Direction,
) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Decide per chunk, so a fault set mid-connection applies at once.
        let mut forward = true;
        loop {
            let now = *fault.borrow_and_update();
            match now {
                Fault::None => break,
                Fault::DropReplies => {
                    forward = direction == Direction::ToServer;
                    break;
                }
                Fault::Delay(by) => {
                    tokio::time::sleep(by).await;
                    break;
                }
                Fault::Refuse => return,
                Fault::Blackhole => {
                    if fault.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
        if forward && to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
