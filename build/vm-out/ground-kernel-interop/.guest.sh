export DISNVME_SRC='/work/main' DISNVME_BUILD='/work/main/build' DISNVME_OUT=/vmout PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb
cd /vmout
timeout --kill-after=10 870 bash /vmout/.scenario.sh
rc=$?
dmesg >/vmout/dmesg.txt 2>&1
exit $rc
