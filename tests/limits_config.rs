//! The variables of the connection cap, write timeout, listen backlog and shutdown delay on the
//! command line: listed by `--help` with their ranges, bad values exit 2 with one line naming the
//! variable and the value, good ones are logged at start-up.

mod common;

use common::{run, Server};

const NEW_VARS: [&str; 4] = [
    "TINYWEB_SHUTDOWN_DELAY_SECS",
    "TINYWEB_WRITE_TIMEOUT_SECS",
    "TINYWEB_MAX_CONNECTIONS",
    "TINYWEB_LISTEN_BACKLOG",
];

/// `--help` lists each new variable with its range.
#[test]
fn help_lists_the_new_variables_with_ranges() {
    let (code, stdout, _) = run(&["--help"], &[]);

    assert_eq!(code, Some(0));
    for (var, range) in NEW_VARS.iter().zip(["0-3600", "1-3600", "16-1048576", "1-65535"]) {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(var))
            .unwrap_or_else(|| panic!("{var} missing from {stdout}"));
        assert!(line.contains(range), "{var}: no range {range} in {line:?}");
    }
}

/// Each bad value exits 2 with exactly one line naming the variable and the value.
#[test]
fn bad_values_exit_2() {
    let cases = [
        (
            &[("TINYWEB_SHUTDOWN_DELAY_SECS", "3601")][..],
            "TINYWEB_SHUTDOWN_DELAY_SECS \"3601\"",
        ),
        (
            &[("TINYWEB_SHUTDOWN_DELAY_SECS", "soon")],
            "TINYWEB_SHUTDOWN_DELAY_SECS \"soon\"",
        ),
        (
            &[
                ("TINYWEB_SHUTDOWN_DELAY_SECS", "3000"),
                ("TINYWEB_SHUTDOWN_GRACE_SECS", "601"),
            ],
            "TINYWEB_SHUTDOWN_DELAY_SECS \"3000\": expected at most 3600 seconds together with \
             TINYWEB_SHUTDOWN_GRACE_SECS",
        ),
        (
            &[("TINYWEB_WRITE_TIMEOUT_SECS", "0")],
            "TINYWEB_WRITE_TIMEOUT_SECS \"0\"",
        ),
        (
            &[("TINYWEB_WRITE_TIMEOUT_SECS", "3601")],
            "TINYWEB_WRITE_TIMEOUT_SECS \"3601\"",
        ),
        (
            &[("TINYWEB_MAX_CONNECTIONS", "15")],
            "TINYWEB_MAX_CONNECTIONS \"15\"",
        ),
        (
            &[("TINYWEB_MAX_CONNECTIONS", "many")],
            "TINYWEB_MAX_CONNECTIONS \"many\"",
        ),
        (
            &[("TINYWEB_MAX_CONNECTIONS", "1048577")],
            "TINYWEB_MAX_CONNECTIONS \"1048577\"",
        ),
        (&[("TINYWEB_LISTEN_BACKLOG", "0")], "TINYWEB_LISTEN_BACKLOG \"0\""),
        (
            &[("TINYWEB_LISTEN_BACKLOG", "65536")],
            "TINYWEB_LISTEN_BACKLOG \"65536\"",
        ),
    ];
    for (env, needle) in cases {
        let (code, stdout, stderr) = run(&[], env);

        assert_eq!(code, Some(2), "{env:?}: {stderr}");
        assert_eq!(stdout, "", "{env:?}");
        assert_eq!(stderr.lines().count(), 1, "{env:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("tinyweb: invalid {needle}")),
            "{env:?}: {stderr}"
        );
    }
}

/// Good values start the server, which logs the cap, its source and the effective backlog.
#[test]
fn good_values_are_logged() {
    let server = Server::start(&[
        ("TINYWEB_SHUTDOWN_DELAY_SECS", "3600"),
        ("TINYWEB_SHUTDOWN_GRACE_SECS", "0"),
        ("TINYWEB_WRITE_TIMEOUT_SECS", "3600"),
        ("TINYWEB_MAX_CONNECTIONS", "16"),
        ("TINYWEB_LISTEN_BACKLOG", "65535"),
    ]);
    let somaxconn: u32 =
        std::fs::read_to_string("/proc/sys/net/core/somaxconn").map_or(65535, |s| s.trim().parse().unwrap());

    let cap = server.wait_for_line("connection cap");
    let log = server.log();

    assert!(
        cap.contains("connection cap 16 (TINYWEB_MAX_CONNECTIONS)"),
        "{cap}"
    );
    assert!(
        log.contains(&format!(
            "listen backlog {} (TINYWEB_LISTEN_BACKLOG 65535",
            somaxconn.min(65535)
        )),
        "{log}"
    );
    assert_eq!(server.get("/").status, 200);
}

/// Without a setting or a cgroup limit (the test machine's own cgroup has none, or the Nix
/// sandbox has no cgroupfs), the cap is derived and its source logged once.
#[test]
fn derived_cap_is_logged_once() {
    let server = Server::start(&[]);

    let cap = server.wait_for_line("connection cap");

    assert!(
        cap.contains("fixed default") || cap.contains("memory limit") || cap.contains("RLIMIT_NOFILE"),
        "{cap}"
    );
    assert_eq!(server.get("/").status, 200);
    assert_eq!(
        server.log().matches("connection cap").count(),
        1,
        "{}",
        server.log()
    );
}
