#ifndef RILL_COPENSSL_SHIM_H
#define RILL_COPENSSL_SHIM_H

// OpenSSL (libssl-dev, 3.0) for RillTLS, the only Swift module that imports it. What Swift
// cannot call (macros) has a small wrapper here; the C that keeps state of its own (the ALPN
// callback, the transport BIO, per-thread buffers) is in Sources/CRillTLS.

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>

// MARK: Settings behind macros

/// TLS 1.2 at least, TLS 1.3 at most; no renegotiation, no compression; the connection's
/// buffers are freed while empty (an idle connection holds no 16 KiB record buffers); writes
/// may complete partially and be retried from a moved buffer; no session cache (resumption by
/// stateless tickets: nothing per session stays in the context, and loops share no cache lock).
/// Returns 1 on success.
static inline int rill_tls_ctx_apply_defaults(SSL_CTX *ctx) {
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) return 0;
    if (SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) return 0;
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return 1;
}

static int rill_tls_refuse_password(char *buffer, int size, int rwflag, void *userdata) {
    (void)buffer; (void)size; (void)rwflag; (void)userdata;
    return 0;
}

/// Makes an encrypted private key fail to load instead of prompting for its passphrase on the
/// terminal (which would block the process).
static inline void rill_tls_ctx_refuse_passwords(SSL_CTX *ctx) { SSL_CTX_set_default_passwd_cb(ctx, rill_tls_refuse_password); }

/// Sets the server name (SNI) a client sends. Returns 1 on success.
static inline int rill_tls_set_server_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

#endif
