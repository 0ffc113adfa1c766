/* A dynamically linked C server as people write them: zlib and OpenSSL's
 * libcrypto/libssl beyond libc, the user looked up by name (getpwnam,
 * getgrnam), the port bound as root, then privileges dropped to that
 * user, a thread ended with pthread_exit (glibc dlopens libgcc_s.so.1 for
 * it), a host name resolved with getaddrinfo, then HTTP on port 80 with
 * what it found. Built by tests/tests/dynamic_apps.rs with
 * gcc dynweb.c -lz -lssl -lcrypto -pthread. */
#include <arpa/inet.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

static char page[2048];

static void say(const char *line) {
  printf("dynweb: %s\n", line);
  fflush(stdout);
  strncat(page, line, sizeof page - strlen(page) - 2);
  strcat(page, "\n");
}

static void *ends_itself(void *arg) {
  (void)arg;
  pthread_exit((void *)42);
  return NULL;
}

int main(int argc, char **argv) {
  const char *who = argc > 1 ? argv[1] : "nobody";
  char line[512];
  struct passwd *pw = getpwnam(who);
  if (!pw) {
    snprintf(line, sizeof line, "getpwnam %s failed", who);
    say(line);
    return 1;
  }
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  struct group *gr = getgrgid(gid);
  snprintf(line, sizeof line, "user %s uid=%u gid=%u group=%s", who, (unsigned)uid,
           (unsigned)gid, gr ? gr->gr_name : "?");
  say(line);

  const char *text = "nodistro dynamic app";
  unsigned long crc = crc32(0L, (const unsigned char *)text, strlen(text));
  unsigned char packed[128];
  uLongf packed_len = sizeof packed;
  int zr = compress(packed, &packed_len, (const unsigned char *)text, strlen(text));
  snprintf(line, sizeof line, "zlib %s crc32=%08lx compress=%d", zlibVersion(), crc, zr);
  say(line);

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(text, strlen(text), md, &md_len, EVP_sha256(), NULL);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  int loaded = ctx ? SSL_CTX_load_verify_locations(ctx, "/etc/ssl/certs/ca-certificates.crt", NULL) : 0;
  int certs = 0;
  if (loaded) {
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
    certs = sk_X509_OBJECT_num(objs);
  }
  snprintf(line, sizeof line, "openssl %s sha256=%02x%02x%02x%02x tls-ctx=%s ca=%d",
           OpenSSL_version(OPENSSL_VERSION_STRING), md[0], md[1], md[2], md[3],
           ctx ? "ok" : "failed", certs);
  say(line);

  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  int gai = getaddrinfo("localhost", "80", &hints, &res);
  char addr[64] = "?";
  if (gai == 0 && res)
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, addr, sizeof addr);
  snprintf(line, sizeof line, "getaddrinfo localhost=%s (%s)", addr, gai ? gai_strerror(gai) : "ok");
  say(line);

  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(80);
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 8) != 0) {
    perror("dynweb: bind :80");
    return 1;
  }
  if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
    perror("dynweb: dropping privileges");
    return 1;
  }
  snprintf(line, sizeof line, "running as uid=%u gid=%u", (unsigned)getuid(), (unsigned)getgid());
  say(line);

  pthread_t t;
  void *ret = NULL;
  if (pthread_create(&t, NULL, ends_itself, NULL) == 0 && pthread_join(t, &ret) == 0)
    snprintf(line, sizeof line, "pthread_exit returned %ld", (long)ret);
  else
    snprintf(line, sizeof line, "pthread failed");
  say(line);

  say("serving on :80");
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0)
      continue;
    char req[1024];
    if (read(c, req, sizeof req) < 0) {
      close(c);
      continue;
    }
    char head[128];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                     strlen(page));
    if (write(c, head, n) < 0 || write(c, page, strlen(page)) < 0)
      perror("dynweb: write");
    close(c);
  }
}
