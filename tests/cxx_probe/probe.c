int probe_c(void);
int probe_c(void)
{
    return 0;
}
