// curl of virtmesh's built-in guest: plain http:// requests, as the walkthroughs and most
// scripts make them, in a small static program. Under CPU emulation (TCG) the dynamically
// linked curl, with its ~30 libraries, takes about 200 ms to start: the walkthrough's
// `while true; do curl URL; sleep 1; done` then runs at 0.7 requests a second, not 1.
// Handled here: one http:// URL (or host[:port][/path], which curl reads as http), with
//   -s -S -f -i -I -o FILE -X METHOD -H HEADER -d DATA --data-raw DATA -A AGENT
//   -m SECONDS --connect-timeout SECONDS -w FORMAT (the variables below) -q
// in curl's syntax (-sSf, -o/dev/null, --long=value), its request headers, its progress
// meter's last line, its messages and exit codes. Anything else (another scheme, more
// URLs, other options, a proxy in the environment, a .curlrc) runs the real curl,
// REAL_CURL, with the same arguments.

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef REAL_CURL
#define REAL_CURL "/usr/libexec/virtmesh/curl"
#endif
#ifndef CURL_USER_AGENT
#define CURL_USER_AGENT "curl/7.88.1" // the build passes the real curl's version
#endif

static char **args;

#include "handover.h"
static int silent, show_error, fail_on_error, include, head;
static const char *out_path, *method, *agent = CURL_USER_AGENT, *write_out;
static char *headers[64], *data;
static int nheaders;
static double max_time, connect_timeout;

// State of the transfer, for -w, the meter and the messages.
static struct timespec started;
static char host[256], port[8], path[4096], url[4400], remote_ip[64];
static int status;
static long long downloaded, header_bytes;
static double t_connect, t_first_byte;
static char content_type[256];
static FILE *out;

static void fallback(void) { exec_real(REAL_CURL, args); }

static double elapsed(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - started.tv_sec) + (now.tv_nsec - started.tv_nsec) / 1e9;
}

// curl's max5data: a byte count in 5 columns.
static const char *size5(long long n, char *buf) {
  if (n < 100000) snprintf(buf, 24, "%5lld", n);
  else if (n < 10000 * 1024LL) snprintf(buf, 24, "%4lldk", n / 1024);
  else if (n < 100 * 1024 * 1024LL) snprintf(buf, 24, "%2lld.%0lldM", n / (1024 * 1024), (n % (1024 * 1024)) * 10 / (1024 * 1024));
  else snprintf(buf, 24, "%4lldM", n / (1024 * 1024));
  return buf;
}

// curl's time2str: "--:--:--" for nothing yet, else H:MM:SS.
static const char *time8(long s, char *buf) {
  if (s <= 0) snprintf(buf, 9, "--:--:--");
  else snprintf(buf, 9, "%2ld:%02ld:%02ld", s / 3600 % 100, s / 60 % 60, s % 60);
  return buf;
}

static long long expected = -1; // Content-Length, when the answer has one

// The progress meter: its header, then the line curl leaves after a short transfer (done: 1).
static void meter(int done) {
  char a[24], b[24], c[24], d[24], e[24], t1[9], t2[9], t3[9];
  double t = elapsed();
  long long speed = t > 0 ? (long long)(downloaded / t) : 0;
  if (done < 0)
    fprintf(stderr, "  %% Total    %% Received %% Xferd  Average Speed   Time    Time     Time  Current\n"
                    "                                 Dload  Upload   Total   Spent    Left  Speed\n");
  long long total = done > 0 ? downloaded : expected > 0 ? expected : 0;
  int received = expected > 0 ? (int)(downloaded * 100 / expected) : 0;
  fprintf(stderr, "\r%3d %s  %3d %s  %3d %s  %s  %s %s %s %s %s", done > 0 ? 100 : received, size5(total, a), received, size5(downloaded, b), 0,
          size5(0, c), size5(speed, d), size5(0, e), time8(expected > 0 ? (long)t : 0, t1), time8((long)t, t2), time8(0, t3), size5(speed, d));
  if (done > 0) fputc('\n', stderr);
}
static int show_meter;

// -w: curl's variables that make sense here; an unknown one means the real curl.
static void write_out_now(int code) {
  for (const char *p = write_out; p && *p; p++) {
    if (*p == '\\' && p[1]) {
      p++;
      putchar(*p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 't' ? '\t' : *p);
    } else if (*p == '%' && p[1] == '%') {
      putchar('%');
      p++;
    } else if (*p == '%' && p[1] == '{') {
      const char *end = strchr(p, '}');
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)(end - p - 2), p + 2);
      if (!strcmp(name, "http_code") || !strcmp(name, "response_code")) printf("%03d", status);
      else if (!strcmp(name, "size_download")) printf("%lld", downloaded);
      else if (!strcmp(name, "size_header")) printf("%lld", header_bytes);
      else if (!strcmp(name, "time_total")) printf("%.6f", elapsed());
      else if (!strcmp(name, "time_connect")) printf("%.6f", t_connect);
      else if (!strcmp(name, "time_starttransfer")) printf("%.6f", t_first_byte);
      else if (!strcmp(name, "remote_ip")) printf("%s", remote_ip);
      else if (!strcmp(name, "remote_port")) printf("%s", *remote_ip ? port : "0");
      else if (!strcmp(name, "url_effective")) printf("%s", url);
      else if (!strcmp(name, "content_type")) printf("%s", content_type);
      else if (!strcmp(name, "exitcode")) printf("%d", code);
      else if (!strcmp(name, "num_redirects")) printf("0");
      p = end;
    } else {
      putchar(*p);
    }
  }
  fflush(stdout);
}

// Whether -w uses only the variables write_out_now knows.
static int write_out_known(const char *w) {
  static const char *known[] = {"http_code", "response_code", "size_download", "size_header", "time_total", "time_connect", "time_starttransfer",
                                "remote_ip", "remote_port", "url_effective", "content_type", "exitcode", "num_redirects", 0};
  if (*w == '@') return 0;
  for (const char *p = strstr(w, "%{"); p; p = strstr(p + 1, "%{")) {
    const char *end = strchr(p, '}');
    if (!end) return 0;
    int k = 0;
    while (known[k] && (strlen(known[k]) != (size_t)(end - p - 2) || strncmp(p + 2, known[k], end - p - 2))) k++;
    if (!known[k]) return 0;
  }
  return 1;
}

// Ends the run as curl does: the meter, -w, and "curl: (N) message" unless -s (or with -S).
static void finish(int code, const char *fmt, ...) {
  if (show_meter) meter(code == 0 ? 1 : 0);
  if (show_meter && code) fputc('\n', stderr);
  if (out && out != stdout) fclose(out);
  else fflush(stdout);
  if (write_out) write_out_now(code);
  if (code && (!silent || show_error)) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "curl: (%d) ", code);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
  }
  exit(code);
}

static long ms_left(double limit) {
  if (limit <= 0) return -1;
  double left = limit - elapsed();
  return left <= 0 ? 0 : (long)(left * 1000) + 1;
}

// The response is read through this buffer.
static int sock = -1;
static char buf[65536];
static size_t have, pos;

// Reads more into buf; 0 at the end of the stream.
static ssize_t fill(void) {
  if (pos > 0) {
    memmove(buf, buf + pos, have - pos);
    have -= pos;
    pos = 0;
  }
  if (have == sizeof buf) return 1;
  struct pollfd p = {.fd = sock, .events = POLLIN};
  int r;
  while ((r = poll(&p, 1, ms_left(max_time))) < 0 && errno == EINTR) {
  }
  if (r == 0) finish(28, "Operation timed out after %ld milliseconds with %lld bytes received", (long)(elapsed() * 1000), downloaded);
  ssize_t n = read(sock, buf + have, sizeof buf - have);
  if (n < 0) finish(56, "Recv failure: %s", strerror(errno));
  if (n > 0 && !t_first_byte) t_first_byte = elapsed();
  have += n;
  return n;
}

// One header line (without its CR LF or LF) into line; 0 at the end of the stream.
static int read_line(char *line, size_t size) {
  for (;;) {
    char *nl = memchr(buf + pos, '\n', have - pos);
    if (nl) {
      size_t n = nl - (buf + pos) + 1;
      header_bytes += n;
      size_t len = n - 1;
      if (len && buf[pos + len - 1] == '\r') len--;
      snprintf(line, size, "%.*s", (int)(len < size ? len : size - 1), buf + pos);
      pos += n;
      return 1;
    }
    if (fill() == 0) return 0;
  }
}

// The output: stdout, or the -o file, made once there is an answer to write (not for -f's errors).
static FILE *output(void) {
  if (!out) {
    out = fopen(out_path, "wb");
    if (!out) finish(23, "Failure writing output to destination");
  }
  return out;
}

// Body bytes to the output.
static void emit(const char *p, size_t n) {
  if (n && fwrite(p, 1, n, output()) != n) finish(23, "Failure writing output to destination");
  downloaded += n;
}

// Copies up to `want` body bytes (-1: until the stream ends); returns how many were missing.
static long long copy_body(long long want) {
  while (want != 0) {
    if (pos == have && fill() == 0) return want < 0 ? 0 : want;
    size_t n = have - pos;
    if (want >= 0 && (long long)n > want) n = want;
    emit(buf + pos, n);
    pos += n;
    if (want > 0) want -= n;
  }
  return 0;
}

static void connect_to_server(void) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
  if (getaddrinfo(host, port, &hints, &res)) finish(6, "Could not resolve host: %s", host);
  double limit = connect_timeout > 0 && (max_time <= 0 || connect_timeout < max_time) ? connect_timeout : max_time > 0 ? max_time : 300;
  int timed_out = 0;
  for (struct addrinfo *ai = res; ai && sock < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen), err = r < 0 ? errno : 0;
    if (err == EINPROGRESS) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      socklen_t len = sizeof err;
      if (poll(&p, 1, ms_left(limit)) <= 0) err = ETIMEDOUT, timed_out = 1;
      else getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err) {
      close(fd);
      continue;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    getnameinfo(ai->ai_addr, ai->ai_addrlen, remote_ip, sizeof remote_ip, 0, 0, NI_NUMERICHOST);
    sock = fd;
  }
  freeaddrinfo(res);
  t_connect = elapsed();
  if (timed_out && sock < 0) finish(28, "Failed to connect to %s port %s after %ld ms: Timeout was reached", host, port, (long)(elapsed() * 1000));
  if (sock < 0) finish(7, "Failed to connect to %s port %s after %ld ms: Couldn't connect to server", host, port, (long)(elapsed() * 1000));
}

// A header the user set with -H, by name (case-insensitive): "Name: v", "Name:" (removes it) or "Name;" (empty).
static const char *user_header(const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < nheaders; i++)
    if (!strncasecmp(headers[i], name, n) && (headers[i][n] == ':' || headers[i][n] == ';')) return headers[i];
  return 0;
}

static void send_request(void) {
  size_t cap = 8192 + (data ? strlen(data) : 0), len = 0;
  char *req = malloc(cap);
#define ADD(...) len += snprintf(req + len, cap - len, __VA_ARGS__)
  ADD("%s %s HTTP/1.1\r\n", method ? method : head ? "HEAD" : data ? "POST" : "GET", path);
  // Host first (the user's in its place), then User-Agent and Accept unless the user sets them, then the user's headers.
  const char *user_host = user_header("Host");
  if (!user_host) ADD("Host: %s%s%s\r\n", host, strcmp(port, "80") ? ":" : "", strcmp(port, "80") ? port : "");
  for (int k = -1; k < nheaders; k++) {
    char *h = k < 0 ? (char *)user_host : headers[k], *colon = h ? strpbrk(h, ":;") : 0;
    if (k == 0) {
      if (!user_header("User-Agent") && *agent) ADD("User-Agent: %s\r\n", agent);
      if (!user_header("Accept")) ADD("Accept: */*\r\n");
    }
    if (!colon || colon == h || (k >= 0 && h == user_host)) continue;
    const char *value = colon + 1;
    while (*value == ' ') value++;
    if (*colon == ':' && !*value) continue; // "Name:" removes a header
    if (*colon == ';') ADD("%.*s:\r\n", (int)(colon - h), h); // "Name;" sends it empty
    else ADD("%.*s: %s\r\n", (int)(colon - h), h, value);
  }
  if (nheaders == 0) {
    if (*agent) ADD("User-Agent: %s\r\n", agent);
    ADD("Accept: */*\r\n");
  }
  if (data) {
    if (!user_header("Content-Length")) ADD("Content-Length: %zu\r\n", strlen(data));
    if (!user_header("Content-Type")) ADD("Content-Type: application/x-www-form-urlencoded\r\n");
  }
  ADD("\r\n");
  if (data) len += snprintf(req + len, cap - len, "%s", data);
  for (size_t sent = 0; sent < len;) {
    ssize_t n = send(sock, req + sent, len - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) finish(55, "Failed sending HTTP request");
    sent += n;
  }
  free(req);
}

// Reads the status line and headers, then the body as the headers frame it.
static void read_response(void) {
  char line[8192];
  long long length;
  int chunked;
  for (;;) {
    if (!read_line(line, sizeof line)) {
      if (have == 0 && header_bytes == 0) finish(52, "Empty reply from server");
      // The stream ended inside the status line or the headers.
      if (memcmp(buf + pos, "HTTP/", have - pos < 5 ? have - pos : 5)) finish(1, "Received HTTP/0.9 when not allowed");
      finish(56, "Recv failure: Connection reset by peer");
    }
    if (strncmp(line, "HTTP/1.", 7) || sscanf(line + 8, " %3d", &status) != 1) {
      if (strncmp(line, "HTTP/", 5)) finish(1, "Received HTTP/0.9 when not allowed");
      finish(8, "Unsupported HTTP version in response");
    }
    FILE *echo = (include || head) && !(fail_on_error && status >= 400) ? output() : 0;
    if (echo) fprintf(echo, "%s\r\n", line);
    expected = length = -1;
    chunked = 0;
    while (read_line(line, sizeof line) && *line) {
      if (echo) fprintf(echo, "%s\r\n", line);
      char *value = strchr(line, ':');
      if (!value) continue;
      *value++ = 0;
      while (*value == ' ' || *value == '\t') value++;
      if (!strcasecmp(line, "Content-Length")) expected = length = atoll(value);
      else if (!strcasecmp(line, "Transfer-Encoding") && strcasestr(value, "chunked")) chunked = 1;
      else if (!strcasecmp(line, "Content-Type")) snprintf(content_type, sizeof content_type, "%s", value);
    }
    if (echo) fputs("\r\n", echo);
    if (status >= 100 && status < 200 && status != 101) continue; // 100 Continue and the like: the real answer follows
    break;
  }
  if (fail_on_error && status >= 400) finish(22, "The requested URL returned error: %d", status);
  if (head || status == 204 || status == 304) return;
  if (!chunked) {
    long long missing = copy_body(length);
    if (missing) finish(18, "transfer closed with %lld bytes remaining to read", missing);
    return;
  }
  for (;;) {
    if (!read_line(line, sizeof line)) finish(18, "transfer closed with outstanding read data remaining");
    long long size = strtoll(line, 0, 16);
    if (size == 0) break;
    if (copy_body(size)) finish(18, "transfer closed with outstanding read data remaining");
    if (!read_line(line, sizeof line)) finish(18, "transfer closed with outstanding read data remaining");
  }
  while (read_line(line, sizeof line) && *line) { // trailers
  }
}

// http://host[:port][/path] or host[:port][/path]; anything curl would treat otherwise is the real curl's.
static void parse_url(const char *u) {
  if (!strncasecmp(u, "http://", 7)) u += 7;
  else if (strstr(u, "://")) fallback();
  static const char *guessed[] = {"ftp.", "dict.", "ldap.", "imap.", "smtp.", "pop3.", 0};
  for (int i = 0; guessed[i]; i++)
    if (!strncasecmp(u, guessed[i], strlen(guessed[i]))) fallback(); // curl guesses another protocol from these
  for (const char *c = u; *c; c++)
    if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f || strchr("[]{}\\\"<>^`|", *c)) fallback(); // globs, IPv6 literals, bytes curl escapes
  size_t n = strcspn(u, "/?#");
  if (n == 0 || n >= sizeof host || memchr(u, '@', n)) fallback();
  snprintf(host, sizeof host, "%.*s", (int)n, u);
  char *colon = strchr(host, ':');
  snprintf(port, sizeof port, "80");
  if (colon) {
    *colon = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 1 || p > 65535) fallback();
    snprintf(port, sizeof port, "%ld", p);
  }
  for (const char *c = host; *c; c++)
    if (isupper((unsigned char)*c)) fallback();
  const char *rest = u + n;
  size_t plen = strcspn(rest, "#");
  snprintf(path, sizeof path, "%s%.*s", *rest == '/' ? "" : "/", (int)plen, rest);
  if (strstr(path, "/./") || strstr(path, "/../") || strlen(path) + 1 >= sizeof path) fallback();
  size_t l = strcspn(path, "?");
  if ((l >= 2 && !strncmp(path + l - 2, "/.", 2)) || (l >= 3 && !strncmp(path + l - 3, "/..", 3))) fallback();
  snprintf(url, sizeof url, "http://%s%s%s%s", host, colon ? ":" : "", colon ? port : "", path);
}

static double seconds_of(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || v < 0) fallback();
  return v;
}

// Whether curl would read a config file (it does unless -q comes first).
static int has_curlrc(void) {
  const char *dirs[] = {getenv("CURL_HOME"), getenv("XDG_CONFIG_HOME"), getenv("HOME")};
  for (int i = 0; i < 3; i++) {
    char p[4096];
    struct stat st;
    if (!dirs[i]) continue;
    snprintf(p, sizeof p, "%s/.curlrc", dirs[i]);
    if (!stat(p, &st)) return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  args = argv;
  const char *target = 0;
  int no_config = argc > 1 && (!strcmp(argv[1], "-q") || !strcmp(argv[1], "--disable"));
  static const char *proxies[] = {"http_proxy", "all_proxy", "ALL_PROXY", 0};
  for (int i = 0; proxies[i]; i++)
    if (getenv(proxies[i]) && *getenv(proxies[i])) fallback();
  if (!no_config && has_curlrc()) fallback();
  for (int i = 1 + no_config; i < argc; i++) {
    char *a = argv[i];
    char opt = 0;
    const char *value = 0;
    if (a[0] != '-' || !a[1]) {
      if (target) fallback(); // more URLs
      target = a;
      continue;
    }
    if (a[1] == '-') {
      // Long options: their short letter here, or the real curl.
      static const char *names[][2] = {{"--silent", "s"},      {"--show-error", "S"},     {"--fail", "f"},      {"--include", "i"},
                                       {"--head", "I"},        {"--output", "o"},         {"--request", "X"},   {"--header", "H"},
                                       {"--data", "d"},        {"--data-raw", "r"},       {"--max-time", "m"},  {"--connect-timeout", "c"},
                                       {"--write-out", "w"},   {"--user-agent", "A"},     {0, 0}};
      char *eq = strchr(a, '=');
      size_t n = eq ? (size_t)(eq - a) : strlen(a);
      int k = 0;
      while (names[k][0] && (strlen(names[k][0]) != n || strncmp(a, names[k][0], n))) k++;
      if (!names[k][0]) fallback();
      opt = names[k][1][0];
      if (strchr("oXHdrmcwA", opt)) {
        value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : 0;
        if (!value) fallback();
      } else if (eq) {
        fallback();
      }
    }
    // Short options, combined (-sSf) or with their value attached (-o/dev/null).
    for (char *c = a + 1; opt || *c; c++) {
      char o = opt ? opt : *c;
      if (!opt && strchr("oXHdmwA", o)) {
        value = c[1] ? c + 1 : i + 1 < argc ? argv[++i] : 0;
        if (!value) fallback();
      } else if (!opt && !strchr("sSfiI", o)) {
        fallback();
      }
      switch (o) {
      case 's': silent = 1; break;
      case 'S': show_error = 1; break;
      case 'f': fail_on_error = 1; break;
      case 'i': include = 1; break;
      case 'I': head = 1; break;
      case 'o': out_path = value; break;
      case 'X': method = value; break;
      case 'A': agent = value; break;
      case 'H':
        if (nheaders == 64 || (!strchr(value, ':') && !strchr(value, ';')) || *value == '@') fallback();
        headers[nheaders++] = (char *)value;
        break;
      case 'd':
      case 'r':
        if (o == 'd' && *value == '@') fallback(); // data from a file
        if (data) {
          char *joined;
          if (asprintf(&joined, "%s&%s", data, value) < 0) fallback();
          data = joined;
        } else {
          data = strdup(value);
        }
        break;
      case 'm': max_time = seconds_of(value); break;
      case 'c': connect_timeout = seconds_of(value); break;
      case 'w':
        if (!write_out_known(value)) fallback();
        write_out = value;
        break;
      }
      if (opt || value) break;
    }
  }
  // curl sends "Expect: 100-continue" with larger bodies, and HEAD with a body is an error: both the real curl's.
  if (!target || (data && (strlen(data) > 1024 || head))) fallback();
  parse_url(target);
  clock_gettime(CLOCK_MONOTONIC, &started);
  signal(SIGPIPE, SIG_IGN);
  if (out_path && !strcmp(out_path, "-")) out_path = 0;
  if (!out_path) out = stdout;
  // The meter shows unless -s, or the body goes to a terminal.
  show_meter = !silent && !(out == stdout && isatty(1));
  if (show_meter) meter(-1);
  connect_to_server();
  send_request();
  read_response();
  output(); // -o makes the file even for an empty body
  finish(0, "");
}
