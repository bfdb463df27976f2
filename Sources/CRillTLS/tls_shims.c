// RillTLS's C side: the ALPN selection callback, the BIO that reads lent ciphertext and writes
// into the thread's buffer, and the per-thread buffers. Kept in one translation unit so that
// its statics (a pthread key, the BIO method, an ex-data index) exist once.

#include "CRillTLS.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/// Ciphertext capacity kept between calls; a larger one (a batch of big writes) is let go of.
#define RILL_TLS_RETAINED_CIPHERTEXT_BYTES (64 * 1024)

// MARK: ALPN, server side

/// The ex-data slot of an SSL_CTX holding its ALPN list (wire format, with a 4-byte length in
/// front), freed with the context.
static void rill_tls_free_alpn(void *parent, void *pointer, CRYPTO_EX_DATA *data, int index, long argl, void *argp) {
    (void)parent; (void)data; (void)index; (void)argl; (void)argp;
    free(pointer);
}

static pthread_once_t rill_tls_alpn_index_once = PTHREAD_ONCE_INIT;
static int rill_tls_alpn_index = -1;

static void rill_tls_make_alpn_index(void) {
    rill_tls_alpn_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, rill_tls_free_alpn);
}

/// Picks the server's most preferred protocol among the client's. None in common: the fatal
/// `no_application_protocol` alert RFC 7301 §3.2 requires (as nginx since 1.21.4), rather
/// than an answer without ALPN that serves the client a protocol it did not ask for. A client
/// that offers no ALPN at all is not asked here and gets HTTP/1.1.
static int rill_tls_select_alpn(
    SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen, void *arg) {
    (void)arg;
    const unsigned char *stored = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), rill_tls_alpn_index);
    if (stored == NULL) return SSL_TLSEXT_ERR_NOACK;
    unsigned int length;
    memcpy(&length, stored, sizeof(length));
    unsigned char *selected = NULL;
    unsigned char selectedLength = 0;
    if (SSL_select_next_proto(&selected, &selectedLength, stored + sizeof(length), length, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    *outlen = selectedLength;
    return SSL_TLSEXT_ERR_OK;
}

/// Offers `wire` (ALPN wire format: length-prefixed names, most preferred first) to clients.
/// Returns 1 on success.
int rill_tls_ctx_set_server_alpn(SSL_CTX *ctx, const unsigned char *wire, unsigned int length) {
    pthread_once(&rill_tls_alpn_index_once, rill_tls_make_alpn_index);
    if (rill_tls_alpn_index < 0) return 0;
    unsigned char *stored = malloc(sizeof(length) + length);
    if (stored == NULL) return 0;
    memcpy(stored, &length, sizeof(length));
    memcpy(stored + sizeof(length), wire, length);
    if (SSL_CTX_set_ex_data(ctx, rill_tls_alpn_index, stored) != 1) {
        free(stored);
        return 0;
    }
    SSL_CTX_set_alpn_select_cb(ctx, rill_tls_select_alpn, NULL);
    return 1;
}

// MARK: Per-thread buffers

/// Where a record's plaintext is decrypted to.
unsigned char *rill_tls_plaintext(rill_tls_thread_buffers *buffers) { return buffers->plaintext; }

/// Ciphertext capacity kept between calls; a larger one (a batch of big writes) is let go of.

static pthread_once_t rill_tls_buffers_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t rill_tls_buffers_key;

static void rill_tls_free_buffers(void *pointer) {
    rill_tls_thread_buffers *buffers = pointer;
    free(buffers->ciphertext);
    free(buffers);
}

static void rill_tls_make_buffers_key(void) { pthread_key_create(&rill_tls_buffers_key, rill_tls_free_buffers); }

/// The calling thread's buffers, made on first use and freed when the thread exits; NULL only
/// when memory ran out.
rill_tls_thread_buffers *rill_tls_buffers(void) {
    pthread_once(&rill_tls_buffers_key_once, rill_tls_make_buffers_key);
    rill_tls_thread_buffers *buffers = pthread_getspecific(rill_tls_buffers_key);
    if (buffers == NULL) {
        buffers = calloc(1, sizeof(*buffers));
        if (buffers == NULL) return NULL;
        pthread_setspecific(rill_tls_buffers_key, buffers);
    }
    return buffers;
}

/// Empties the ciphertext buffer after its bytes were handed on.
void rill_tls_reset_ciphertext(rill_tls_thread_buffers *buffers) {
    buffers->ciphertextCount = 0;
    if (buffers->ciphertextCapacity > RILL_TLS_RETAINED_CIPHERTEXT_BYTES) {
        free(buffers->ciphertext);
        buffers->ciphertext = NULL;
        buffers->ciphertextCapacity = 0;
    }
}

// MARK: A BIO over lent input and the thread's ciphertext buffer

/// What a connection's BIO reads from: ciphertext lent for the duration of one call (the
/// transport's read buffer), never copied into a buffer of the connection's own.
typedef struct rill_tls_bio_input {
    const unsigned char *bytes;
    size_t count;
} rill_tls_bio_input;

static int rill_tls_bio_write(BIO *bio, const char *data, int length) {
    BIO_clear_retry_flags(bio);
    if (length <= 0) return 0;
    rill_tls_thread_buffers *buffers = rill_tls_buffers();
    if (buffers == NULL) return -1;
    size_t needed = buffers->ciphertextCount + (size_t)length;
    if (needed > buffers->ciphertextCapacity) {
        size_t capacity = buffers->ciphertextCapacity < 16384 ? 16384 : buffers->ciphertextCapacity;
        while (capacity < needed) capacity *= 2;
        unsigned char *grown = realloc(buffers->ciphertext, capacity);
        if (grown == NULL) return -1;
        buffers->ciphertext = grown;
        buffers->ciphertextCapacity = capacity;
    }
    memcpy(buffers->ciphertext + buffers->ciphertextCount, data, (size_t)length);
    buffers->ciphertextCount = needed;
    return length;
}

static int rill_tls_bio_read(BIO *bio, char *data, int length) {
    BIO_clear_retry_flags(bio);
    rill_tls_bio_input *input = BIO_get_data(bio);
    if (input == NULL || length <= 0) return 0;
    if (input->count == 0) {
        BIO_set_retry_read(bio);
        return -1;
    }
    size_t count = input->count < (size_t)length ? input->count : (size_t)length;
    memcpy(data, input->bytes, count);
    input->bytes += count;
    input->count -= count;
    return (int)count;
}

static long rill_tls_bio_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number; (void)pointer;
    switch (command) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: {
        rill_tls_bio_input *input = BIO_get_data(bio);
        return input == NULL ? 0 : (long)input->count;
    }
    case BIO_CTRL_WPENDING: return 0;
    default: return 0;
    }
}

static int rill_tls_bio_create(BIO *bio) {
    rill_tls_bio_input *input = calloc(1, sizeof(*input));
    if (input == NULL) return 0;
    BIO_set_data(bio, input);
    BIO_set_init(bio, 1);
    return 1;
}

static int rill_tls_bio_destroy(BIO *bio) {
    free(BIO_get_data(bio));
    BIO_set_data(bio, NULL);
    BIO_set_init(bio, 0);
    return 1;
}

static pthread_once_t rill_tls_bio_method_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *rill_tls_bio_method_instance = NULL;

static void rill_tls_make_bio_method(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rill transport");
    if (method == NULL) return;
    BIO_meth_set_write(method, rill_tls_bio_write);
    BIO_meth_set_read(method, rill_tls_bio_read);
    BIO_meth_set_ctrl(method, rill_tls_bio_ctrl);
    BIO_meth_set_create(method, rill_tls_bio_create);
    BIO_meth_set_destroy(method, rill_tls_bio_destroy);
    rill_tls_bio_method_instance = method;
}

/// Makes an SSL object for `ctx` reading and writing through one transport BIO; NULL when
/// memory ran out.
SSL *rill_tls_new_connection(SSL_CTX *ctx) {
    pthread_once(&rill_tls_bio_method_once, rill_tls_make_bio_method);
    if (rill_tls_bio_method_instance == NULL) return NULL;
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL) return NULL;
    BIO *bio = BIO_new(rill_tls_bio_method_instance);
    if (bio == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_bio(ssl, bio, bio);  // one BIO both ways: SSL_set_bio takes the one reference for both
    return ssl;
}

/// Lends `count` bytes at `bytes` to the connection's reads until the next call.
void rill_tls_lend_input(SSL *ssl, const void *bytes, size_t count) {
    rill_tls_bio_input *input = BIO_get_data(SSL_get_rbio(ssl));
    if (input == NULL) return;
    input->bytes = bytes;
    input->count = count;
}

/// Bytes lent with rill_tls_lend_input that the connection has not read yet.
size_t rill_tls_unread_input(SSL *ssl) {
    rill_tls_bio_input *input = BIO_get_data(SSL_get_rbio(ssl));
    return input == NULL ? 0 : input->count;
}

