#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""importer-rules.py virtualbox|glance OVA: the import rules of two
importers we cannot run here (VirtualBox is not in Debian 12; Glance needs
an OpenStack), encoded from their sources. Prints one line per rule,
"ok RULE" or "FAIL RULE: why", then a JSON summary line; exit 0 when every
rule holds.

VirtualBox: src/VBox/Main/xml/ovfreader.cpp (OVFReader::
HandleVirtualSystemContent, VirtualHardwareItem::fillItem,
VirtualHardwareItem::_checkConsistencyAndCompliance) and
src/VBox/Main/src-server/ApplianceImplImport.cpp (Appliance::interpret):
  VB-TYPE     a ResourceType the switch does not handle (handled: 3 4 5 6
              10 14 15 17 20 23 35) is OVFLogicError "Unknown resource
              type" unless the Item has ovf:required="false"
  VB-TYPE20   ResourceType 20 only with subtype AHCI / vmware.sata.ahci,
              VirtioSCSI / virtio-scsi, NVMe / vmware.nvme.controller
              (case-insensitive), else OVFLogicError
  VB-IID      controllers (5, 6, 20) need an InstanceID
  VB-MEM      memory AllocationUnits one of MegaBytes, MB, byte * 2^20,
              GigaBytes, GB, byte * 2^30
  VB-PARENT   a disk item's Parent is the InstanceID of a controller
              ("specifies invalid parent")
  VB-HOSTRES  HostResource ovf://disk/ID, ovf:/disk/ID or /disk/ID naming a
              Disk of DiskSection ("specifies invalid host resource")
  VB-ONEVM    ovf:configuration and DeploymentOptionSection are not read:
              every Item applies, so the VM must have one processor item,
              one memory item, at most one controller per kind (interpret:
              "more than one SATA/SCSI controller" is a warning and the rest
              are dropped) and the disks of one architecture only
  VB-ARM      an Arm VM (InstructionSet DMTF:ARM:A64) needs vbox:Machine
              with <Platform architecture="ARM">: the OVF items cannot say
              the platform, VirtualBox 7.1 would make an x86 VM
  VB-OSTYPE   vbox:OSType in OperatingSystemSection is found by the prefix
              "vbox" (findChildElementNS("vbox", "OSType"))

Glance: glance/async_/flows/ovf_process.py (OVAImageExtractor.extract,
_parse_OVF) and etc/ovf-metadata.json.sample:
  GL-OVF      the first tar member whose name ends in .ovf is the descriptor
  GL-ONEDISK  DiskSection holds exactly one Disk ("Currently, OVA packages
              containing multiple disk are not supported.")
  GL-FILE     that Disk's fileRef names a File whose href is a tar member
  GL-PASD     properties: every element of the CIM_ProcessorAllocation-
              SettingData namespace named ProcessorArchitecture,
              InstructionSet or InstructionSetExtensionName becomes
              cim_pasd_NAME (a later one overwrites an earlier one)
"""
import json
import re
import sys
import tarfile
import xml.etree.ElementTree as ET

OVF = "http://schemas.dmtf.org/ovf/envelope/1"
RASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
PASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ProcessorAllocationSettingData"
VBOX = "http://www.virtualbox.org/ovf/machine"

results = []


def rule(name, ok, why=""):
    results.append((name, bool(ok), why))


def local(tag):
    return tag.split("}", 1)[-1]


def read_ova(path):
    with tarfile.open(path) as t:
        names = t.getnames()
        ovf_name = next((n for n in names if n.endswith(".ovf")), None)
        data = t.extractfile(ovf_name).read() if ovf_name else None
    return names, ovf_name, data


def virtualbox(path):
    names, ovf_name, data = read_ova(path)
    root = ET.fromstring(data)
    disks = {d.get(f"{{{OVF}}}diskId") for d in root.iter(f"{{{OVF}}}Disk")}
    vhs = next(root.iter(f"{{{OVF}}}VirtualHardwareSection"))
    items = []
    for it in vhs.findall(f"{{{OVF}}}Item"):
        # fillItem: children matched by local name, any namespace
        f = {}
        for c in it:
            f.setdefault(local(c.tag), (c.text or "").strip())
        f["required"] = it.get(f"{{{OVF}}}required", "true") != "false"
        items.append(f)
    handled = {3, 4, 5, 6, 10, 14, 15, 17, 20, 23, 35}
    bad = [i for i in items if int(i.get("ResourceType", "0")) not in handled and i["required"]]
    rule("VB-TYPE", not bad, f"required items of unknown types {[i['ResourceType'] for i in bad]}")
    ok20 = {"ahci", "vmware.sata.ahci", "virtioscsi", "virtio-scsi", "nvme", "vmware.nvme.controller"}
    t20 = [i.get("ResourceSubType", "") for i in items if i.get("ResourceType") == "20"]
    rule("VB-TYPE20", all(s.lower() in ok20 for s in t20), f"type 20 subtypes {t20}")
    ctrls = [i for i in items if i.get("ResourceType") in ("5", "6", "20")]
    rule("VB-IID", all(i.get("InstanceID") for i in ctrls), "a controller without InstanceID")
    units = {"MegaBytes", "MB", "byte * 2^20", "GigaBytes", "GB", "byte * 2^30"}
    mem = [i for i in items if i.get("ResourceType") == "4"]
    rule("VB-MEM", all(i.get("AllocationUnits") in units for i in mem), "memory AllocationUnits")
    ids = {i.get("InstanceID") for i in ctrls}
    hd = [i for i in items if i.get("ResourceType") == "17"]
    rule("VB-PARENT", all(i.get("Parent") in ids for i in hd), "a disk whose Parent is no controller")
    hr = []
    for i in hd:
        m = re.match(r"^(?:ovf://disk/|ovf:/disk/|/disk/)(.*)$", i.get("HostResource", ""))
        hr.append(m.group(1) if m and m.group(1) in disks else None)
    rule("VB-HOSTRES", all(hr), "a disk HostResource naming no Disk")
    kinds = [("SATA" if i["ResourceType"] == "20" and i.get("ResourceSubType", "").lower() in ("ahci", "vmware.sata.ahci")
              else i["ResourceType"] + "/" + i.get("ResourceSubType", "").lower()) for i in ctrls]
    roots = [h for h in hr if h and h.startswith("root-")]
    cpus = sum(1 for i in items if i.get("ResourceType") == "3")
    one = cpus == 1 and len(mem) == 1 and len(kinds) == len(set(kinds)) and len(roots) <= 1
    rule("VB-ONEVM", one, f"VirtualBox would build one VM from {cpus} processor items, {len(mem)} memory "
         f"items, controllers {kinds}, disks {hr}")
    arm = any((e.text or "").strip() == "DMTF:ARM:A64" for e in root.iter(f"{{{PASD}}}InstructionSet"))
    machine = next(root.iter(f"{{{VBOX}}}Machine"), None)
    # VirtualBox reads the settings inside vbox:Machine by local name (its
    # own exports leave them in the envelope's default namespace)
    plat = machine is not None and any(local(p.tag) == "Platform" and p.get("architecture") == "ARM"
                                       for p in machine.iter())
    rule("VB-ARM", not arm or plat, "an Arm VM without vbox:Machine/Platform architecture=\"ARM\"")
    prefix_ok = True
    if next(root.iter(f"{{{VBOX}}}OSType"), None) is not None:
        prefix_ok = b"<vbox:OSType" in data
    rule("VB-OSTYPE", prefix_ok, "vbox:OSType not under the prefix vbox")
    return {"arm": arm, "disks": [h for h in hr if h], "controllers": kinds}


def glance(path):
    names, ovf_name, data = read_ova(path)
    rule("GL-OVF", ovf_name is not None, "no .ovf member")
    if ovf_name is None:
        return {}
    interested = ["ProcessorArchitecture", "InstructionSet", "InstructionSetExtensionName"]
    props, file_elements, file_ref, ndisks = {}, [], None, 0
    import io
    for event, elem in ET.iterparse(io.BytesIO(data)):
        m = re.match(r"\{(.+)\}(.+)", elem.tag)
        ns, tag = (m.group(1), m.group(2)) if m else ("", elem.tag)
        if ns == PASD and tag in interested:
            props["cim_pasd_" + tag] = elem.text.strip() if elem.text else ""
        if tag == "DiskSection":
            disks = [c for c in elem if local(c.tag) == "Disk"]
            ndisks = len(disks)
            if disks:
                file_ref = next(v for k, v in disks[0].items() if local(k) == "fileRef")
        if tag == "References":
            file_elements = list(elem)
    rule("GL-ONEDISK", ndisks == 1, f"{ndisks} disks")
    href = None
    for fe in file_elements:
        fid = next(v for k, v in fe.items() if local(k) == "id")
        if fid == file_ref:
            href = next(v for k, v in fe.items() if local(k) == "href")
    rule("GL-FILE", href in names, f"disk file {href!r} is not a member")
    rule("GL-PASD", "cim_pasd_InstructionSet" in props, "no CIM InstructionSet for Glance to copy")
    return {"disk": href, "properties": props}


def main():
    kind, path = sys.argv[1], sys.argv[2]
    summary = virtualbox(path) if kind == "virtualbox" else glance(path)
    for name, ok, why in results:
        print(f"ok {name}" if ok else f"FAIL {name}: {why}")
    print(json.dumps(summary, sort_keys=True))
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
