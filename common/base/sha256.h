/*
 * sha256.h - a file's SHA-256 (OpenSSL's libcrypto): what a prediction
 * names its model by, so a report sent back to the PACS says exactly
 * which model file made it.
 */
#ifndef OSTEO_SHA256_H
#define OSTEO_SHA256_H

/* path's digest as 64 lower-case hex digits; dies with 66 when the file
 * cannot be read */
void file_sha256(const char *path, char hex[65]);

#endif
