Attribute VB_Name = "RibbonComplaintkit"
'complaintkit ribbon dispatcher: the one callback of every button on the add-in's ribbon tab.
'Each button in excel/customUI14.xml has onAction="RibbonComplaintkit.OnButton" and a tag that
'names its check (validate, dedupe, classify, followups, risk, all, clear); Python does the rest.
'
'Built into complaintkit.xlam by excel/build_addin.py: edit this file and rebuild, never the
'add-in itself. Kept to ASCII on purpose: the VBA project stores source in code page 1252, so
'Chinese text is built from code points (messages from Python are Unicode anyway).
Option Explicit

Public Sub OnButton(control As IRibbonControl)
    RunCheck control.Tag
End Sub

Public Sub RunCheck(ByVal checkTag As String)
    If ActiveWorkbook Is Nothing Then
        'Open the complaint register first, then press the button.
        MsgBox FromCodePoints("8BF7 5148 6253 5F00 6295 8BC9 767B 8BB0 53F0 8D26 FF0C 518D 6309 6309 94AE 3002"), _
               vbInformation, "complaintkit"
        Exit Sub
    End If
    'Tags come from the ribbon XML; anything else never reaches the Python command line.
    If checkTag = "" Or checkTag Like "*[!a-z]*" Then
        MsgBox "complaintkit: unknown button tag '" & checkTag & "'", vbCritical, "complaintkit"
        Exit Sub
    End If
    RunPython "import complaintkit.addin as a; a.run_button('" & checkTag & "')"
End Sub

Private Function FromCodePoints(ByVal hexList As String) As String
    Dim part As Variant
    For Each part In Split(hexList, " ")
        FromCodePoints = FromCodePoints & ChrW(CLng("&H" & part))
    Next part
End Function
