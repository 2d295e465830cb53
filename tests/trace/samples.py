"""JUnit XML shaped like what real tools write: pytest --junitxml, Maven surefire, nested suites."""

from __future__ import annotations

PYTEST = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1"
 tests="5" time="0.412" timestamp="2026-01-15T08:59:58.123456+00:00" hostname="ci-runner-7">
<testcase classname="tests.test_alarm" name="test_alarm_sounds_within_2s" time="0.003">
<properties><property name="requirements" value="SRS-1, SRS-2"/>
<property name="level" value="integration"/></properties></testcase>
<testcase classname="tests.test_alarm" name="test_alarm_volume[80-dB]" time="0.002">
<properties><property name="verifies" value="SRS-2"/></properties>
<failure message="AssertionError: assert 72 &gt;= 80">def test_alarm_volume(level):
&gt;       assert measured(level) &gt;= 80
E       AssertionError: assert 72 &gt;= 80

tests/test_alarm.py:31: AssertionError</failure></testcase>
<testcase classname="tests.test_dose" name="test_dose_limit" time="0.001">
<error message="failed on setup with &quot;fixture 'pump' not found&quot;">
file tests/test_dose.py, line 9
E       fixture 'pump' not found</error></testcase>
<testcase classname="tests.test_dose" name="test_bolus" time="0.000">
<skipped type="pytest.skip" message="needs hardware">tests/test_dose.py:14: needs hardware</skipped>
</testcase>
<testcase classname="tests.test_ui" name="test_banner" time="0.001"/>
</testsuite></testsuites>
"""

SUREFIRE = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xsi:noNamespaceSchemaLocation="https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report-3.0.xsd"
 version="3.0" name="com.acme.pump.DoseCalculatorTest" time="0.051" tests="3" errors="0"
 skipped="0" failures="1">
  <properties>
    <property name="java.version" value="21.0.2"/>
    <property name="level" value="unit"/>
    <property name="os.name" value="Linux"/>
  </properties>
  <testcase name="computesBolus" classname="com.acme.pump.DoseCalculatorTest" time="0.012">
    <properties><property name="requirement" value="SRS-3"/></properties>
  </testcase>
  <testcase name="rejectsNegativeRate" classname="com.acme.pump.DoseCalculatorTest" time="0.004">
    <failure message="expected: &lt;true&gt; but was: &lt;false&gt;"
     type="org.opentest4j.AssertionFailedError">org.opentest4j.AssertionFailedError:
	at com.acme.pump.DoseCalculatorTest.rejectsNegativeRate(DoseCalculatorTest.java:41)
</failure>
    <system-out><![CDATA[rate=-1]]></system-out>
  </testcase>
  <testcase name="limitsDose" classname="com.acme.pump.DoseCalculatorTest" time="0.002"/>
</testsuite>
"""

NESTED = b"""<?xml version="1.0"?>
<testsuites>
  <testsuite name="system">
    <properties><property name="level" value="system"/></properties>
    <testsuite name="alarms">
      <testcase classname="sys.alarms" name="occlusion">
        <properties><property name="id" value="SYS-T-1"/>
        <property name="requirements" value="SRS-1"/></properties>
      </testcase>
      <testsuite name="deep">
        <properties><property name="level" value="integration"/></properties>
        <testcase classname="sys.alarms.deep" name="battery"/>
      </testsuite>
    </testsuite>
    <testcase classname="sys" name="boot"/>
  </testsuite>
</testsuites>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<testsuite name="x"><testcase name="a"><failure message="&lol3;"/></testcase></testsuite>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<testsuite name="x"><testcase name="a"><failure message="&xxe;"/></testcase></testsuite>
"""


def suite(*cases: str, name: str = "s") -> bytes:
    """A bare <testsuite> with the given <testcase> elements."""
    return f'<testsuite name="{name}">{"".join(cases)}</testsuite>'.encode()


def case(name: str, classname: str = "t", *, outcome: str = "", requirements: str = "") -> str:
    """One <testcase>; outcome '' passes, else 'failure', 'error' or 'skipped'."""
    props = (
        f'<properties><property name="requirements" value="{requirements}"/></properties>'
        if requirements
        else ""
    )
    body = f'<{outcome} message="{outcome} here"/>' if outcome else ""
    return f'<testcase classname="{classname}" name="{name}">{props}{body}</testcase>'
