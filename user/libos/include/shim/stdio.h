// <stdio.h> for lwIP: printf only (libmanifold's).
#pragma once
int printf(const char *fmt, ...);
