extern "C" int probe_c(void);
int main()
{
    return probe_c();
}
