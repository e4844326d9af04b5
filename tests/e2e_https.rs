//! The HTTP listener over TLS: a self-signed certificate made here, given in
//! `[http]`, serves the console's pages over https to a client that trusts
//! it; plain http on that port gets no page.

mod support;

use support::{Server, ServerOptions};

#[test]
fn pages_are_served_over_https_with_the_configured_certificate() {
    let keys = tempfile::tempdir().unwrap();
    let issued =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let certificate = keys.path().join("cert.pem");
    let key = keys.path().join("key.pem");
    std::fs::write(&certificate, issued.cert.pem()).unwrap();
    std::fs::write(&key, issued.signing_key.serialize_pem()).unwrap();
    let server = Server::start_with(ServerOptions {
        config: format!(
            "[http]\ntls_certificate = {:?}\ntls_key = {:?}\n",
            certificate.display().to_string(),
            key.display().to_string()
        ),
        ..ServerOptions::default()
    });

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = server.http.port();
    runtime.block_on(async {
        let trusting = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(issued.cert.pem().as_bytes()).unwrap(),
            )
            .build()
            .unwrap();
        let health = trusting
            .get(format!("https://localhost:{port}/health"))
            .send()
            .await
            .expect("an https answer");
        assert_eq!(health.status(), 200);
        assert_eq!(health.text().await.unwrap(), "ok\n");
        let login = trusting
            .get(format!("https://localhost:{port}/login"))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        assert!(
            login.text().await.unwrap().contains("<form"),
            "the sign-in page"
        );

        // The loopback rule holds over TLS: no token exists, and loopback is admin.
        let status = trusting
            .get(format!("https://localhost:{port}/status"))
            .send()
            .await
            .unwrap();
        assert_eq!(status.status(), 200);

        let untrusting = reqwest::Client::new();
        let refused = untrusting
            .get(format!("https://localhost:{port}/health"))
            .send()
            .await;
        assert!(
            refused.is_err(),
            "a client that does not trust the certificate got through"
        );

        let plain = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await;
        assert!(
            plain.map(|r| r.status() != 200).unwrap_or(true),
            "plain http was served"
        );
    });
}
