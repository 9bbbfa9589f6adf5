//! Measures server memory per idle charger connection.
//!
//! ```text
//! cargo run --release -p joule-csms --example idle_memory -- 1000 5000
//! ```
//!
//! The parent process runs the real server (temp SQLite store, unknown
//! chargers auto-registered) and spawns itself as a client process that opens
//! N idle WebSocket connections (`ocpp1.6`, one BootNotification each so the
//! connection is fully set up). Once they are all answered, the parent reads
//! its own `VmRSS` from `/proc/self/status` and reports
//! `(rss_after - rss_before) / N`. Only loopback addresses are used; the
//! client exits when the parent closes its stdin. Raise `ulimit -n` first
//! for large N (each connection costs one descriptor on each side).

use std::io::{BufRead as _, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use joule_csms::{Argon2Passwords, Csms, CsmsSettings, UnknownChargerPolicy};
use joule_domain::ports::clock::SystemClock;
use joule_domain::services::charging::{ChargingPorts, ChargingService, ChargingSettings};
use joule_store::Database;
use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("client") {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(client(
            args[2].clone(),
            args[3].parse().expect("n"),
            args[4].clone(),
        ));
        return;
    }
    let counts: Vec<usize> = if args.len() > 1 {
        args[1..]
            .iter()
            .map(|a| a.parse().expect("count"))
            .collect()
    } else {
        vec![1000, 5000]
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for (round, n) in counts.into_iter().enumerate() {
            measure(n, round).await;
        }
    });
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

async fn measure(n: usize, round: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/j.db", dir.path().display());
    let db = joule_store::connect(&url, Default::default())
        .await
        .expect("db");
    let Database::Sqlite(store) = &db else {
        panic!("sqlite expected")
    };
    let store = Arc::clone(store);
    let service = ChargingService::new(
        ChargingPorts::from(store.clone() as Arc<dyn joule_domain::ports::store::Store>),
        Arc::new(SystemClock),
        ChargingSettings::default(),
    );
    let settings = CsmsSettings {
        listen: "127.0.0.1:0".parse().expect("addr"),
        unknown_chargers: UnknownChargerPolicy::AutoRegisterPending,
        ..CsmsSettings::default()
    };
    let csms = Csms::new(
        settings,
        service,
        store.clone(),
        store.clone(),
        Arc::new(Argon2Passwords::new()),
    );
    let (addr, serve) = csms.bind().await.expect("bind");
    let server = tokio::spawn(serve);

    // Warm up allocator, store and schema caches with a few connections.
    let prefix = format!("W{round}-");
    run_clients(addr, 50, &prefix).await;
    db.flush().await.expect("flush");
    let before = rss_bytes();

    let prefix = format!("R{round}-");
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["client", &addr.to_string(), &n.to_string(), &prefix])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let stdout = child.stdout.take().expect("stdout");
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).ok();
        line
    })
    .await
    .expect("join");
    assert!(ready.starts_with("ready"), "client failed: {ready}");
    db.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_bytes();
    let connected = csms.connection_count();
    println!(
        "N={n}: connected={connected} rss_before={} KiB rss_after={} KiB => {:.0} bytes/connection",
        before / 1024,
        after / 1024,
        (after.saturating_sub(before)) as f64 / n as f64
    );
    drop(child.stdin.take());
    let _ = child.wait();
    csms.shutdown();
    let _ = server.await;
    db.close().await.ok();
}

async fn run_clients(addr: std::net::SocketAddr, n: usize, prefix: &str) {
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        held.push(open(addr, &format!("{prefix}{i}")).await);
    }
}

async fn open(
    addr: std::net::SocketAddr,
    id: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let mut request = format!("ws://{addr}/ocpp/{id}")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "ocpp1.6".parse().expect("header"));
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("handshake");
    ws.send(Message::text(
        r#"[2,"1","BootNotification",{"chargePointVendor":"Joule","chargePointModel":"Idle"}]"#,
    ))
    .await
    .expect("send");
    while let Some(Ok(m)) = ws.next().await {
        if m.is_text() {
            break;
        }
    }
    ws
}

async fn client(addr: String, n: usize, prefix: String) {
    let addr: std::net::SocketAddr = addr.parse().expect("addr");
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        held.push(open(addr, &format!("{prefix}{i}")).await);
    }
    println!("ready {n}");
    std::io::stdout().flush().ok();
    // Stay idle (answering pings via tungstenite) until the parent is done.
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).ok();
    })
    .await;
    drop(held);
}
