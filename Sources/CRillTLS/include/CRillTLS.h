#ifndef RILL_CRILLTLS_H
#define RILL_CRILLTLS_H

// RillTLS's C helpers over OpenSSL (implemented in tls_shims.c). Only RillTLS imports this.

#include <openssl/ssl.h>
#include <stddef.h>

/// The most plaintext one TLS record carries.
#define RILL_TLS_PLAINTEXT_BYTES 16384

/// The bytes one loop thread's TLS connections produce and decrypt, one call at a time: the
/// ciphertext a call into OpenSSL wrote (handed to the transport right after the call) and
/// room for one record's plaintext. Per thread, not per connection, so an idle connection
/// holds neither.
typedef struct rill_tls_thread_buffers {
    unsigned char *ciphertext;
    size_t ciphertextCount;
    size_t ciphertextCapacity;
    unsigned char plaintext[RILL_TLS_PLAINTEXT_BYTES];
} rill_tls_thread_buffers;

/// Offers `wire` (ALPN wire format: length-prefixed names, most preferred first) to clients:
/// the server's most preferred protocol the client also offers is selected; none in common: no
/// ALPN in the answer. Returns 1 on success.
int rill_tls_ctx_set_server_alpn(SSL_CTX *ctx, const unsigned char *wire, unsigned int length);

/// The calling thread's buffers, made on first use and freed when the thread exits; NULL only
/// when memory ran out.
rill_tls_thread_buffers *rill_tls_buffers(void);

/// Where a record's plaintext is decrypted to.
unsigned char *rill_tls_plaintext(rill_tls_thread_buffers *buffers);

/// Empties the ciphertext buffer after its bytes were handed on.
void rill_tls_reset_ciphertext(rill_tls_thread_buffers *buffers);

/// Makes an SSL object for `ctx` reading and writing through one transport BIO (reads from
/// lent input, writes into the thread's ciphertext buffer); NULL when memory ran out.
SSL *rill_tls_new_connection(SSL_CTX *ctx);

/// Lends `count` bytes at `bytes` to the connection's reads until the next call.
void rill_tls_lend_input(SSL *ssl, const void *bytes, size_t count);

/// Bytes lent with rill_tls_lend_input that the connection has not read yet.
size_t rill_tls_unread_input(SSL *ssl);

#endif
