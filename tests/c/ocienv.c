/* The app of the OCI tests: prints, on one line, what a container runtime
 * would have set up from the image config (argv, working directory, ids,
 * environment) and what the layers left (a whited-out file, an opaque
 * directory, a file replaced by the upper layer), then exits 0. Linked
 * against glibc: its loader and libc come from the image's own layer. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void file_word(const char *path, char *out, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(out, n, "absent");
        return;
    }
    if (!fgets(out, (int)n, f))
        out[0] = 0;
    out[strcspn(out, "\n")] = 0;
    fclose(f);
}

int main(int argc, char **argv) {
    char cwd[256], old[64], motd[64], cache[256] = "";
    /* The working directory is the user's own (owners kept from the layer). */
    FILE *w = fopen("written-by-app", "w");
    const char *wrote = w ? "ok" : "denied";
    if (w)
        fclose(w);
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, "?");
    file_word("/srv/old.txt", old, sizeof old);
    file_word("/etc/motd", motd, sizeof motd);
    DIR *d = opendir("/data/cache");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            strncat(cache, e->d_name, sizeof cache - strlen(cache) - 2);
            strcat(cache, ",");
        }
        closedir(d);
    }
    printf("ocienv: argv=");
    for (int i = 0; i < argc; i++)
        printf("%s%s", i ? "|" : "", argv[i]);
    const char *g = getenv("GREETING");
    printf(" cwd=%s uid=%d gid=%d GREETING=%s old=%s motd=%s cache=%s write=%s end\n", cwd,
           (int)getuid(), (int)getgid(), g ? g : "(unset)", old, motd, cache, wrote);
    fflush(stdout);
    return 0;
}
